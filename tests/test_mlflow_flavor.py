"""nnabla.mlflow_save_load_model: an affine model saved as an MLflow model, loaded back as
files and as a pyfunc whose predictions match a numpy forward of the saved parameters."""
import os

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")
pd = pytest.importorskip("pandas")

import mlflow.pyfunc  # noqa: E402

import nnabla as nn  # noqa: E402
import nnabla.parametric_functions as PF  # noqa: E402
import nnabla.utils.save as save  # noqa: E402
from nnabla import mlflow_save_load_model as flavor  # noqa: E402


@pytest.fixture
def affine_files(tmp_path):
    """An .nnp of y = affine(x) and a parameter file with other values than the .nnp's."""
    rng = np.random.RandomState(3)
    x = nn.Variable((4, 3))
    y = PF.affine(x, 2, name="fc")
    params = nn.get_parameters()
    params["fc/affine/W"].d = rng.randn(3, 2)
    params["fc/affine/b"].d = rng.randn(2)
    nnp = str(tmp_path / "net.nnp")
    save.save(nnp, {
        "networks": [{"name": "net", "batch_size": 4, "outputs": {"y": y}, "names": {"x": x}}],
        "executors": [{"name": "runtime", "network": "net", "data": ["x"], "output": ["y"]}]})
    W, b = rng.randn(3, 2).astype(np.float32), rng.randn(2).astype(np.float32)
    params["fc/affine/W"].d, params["fc/affine/b"].d = W, b
    h5 = str(tmp_path / "params.h5")
    nn.save_parameters(h5)
    return h5, nnp, W, b


def test_save_model_loads_back_as_files_and_as_pyfunc(tmp_path, affine_files):
    h5, nnp, W, b = affine_files
    config = tmp_path / "config.txt"
    config.write_text("batch_size: 4")
    target = str(tmp_path / "mlmodel")
    flavor.save_model(h5, target, nnp=[nnp], config_file=str(config))
    with open(os.path.join(target, "config.txt")) as f:
        assert f.read() == "batch_size: 4"

    loaded = flavor.load_model(target)
    assert loaded != h5 and os.path.basename(loaded) == "params.h5"
    with open(loaded, "rb") as f, open(h5, "rb") as g:
        assert f.read() == g.read()
    [loaded_nnp] = flavor.load_model(target, model="nnp")
    with open(loaded_nnp, "rb") as f, open(nnp, "rb") as g:
        assert f.read() == g.read()

    model = mlflow.pyfunc.load_model(target)
    x = np.random.RandomState(0).randn(5, 3).astype(np.float32)    # batch 5, not the file's 4
    expected = x @ W + b                                           # the .h5's values win
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(pd.DataFrame(x[:2])), expected[:2],
                               rtol=1e-5, atol=1e-6)
    direct = flavor._load_pyfunc(os.path.join(target, "model"))
    np.testing.assert_allclose(direct.predict({"x": x[:1]}), expected[:1], rtol=1e-5, atol=1e-6)
    assert direct.predict(None) is None
    with pytest.raises(KeyError, match="unknown inputs"):
        direct.predict({"z": x})
    with pytest.raises(ValueError, match=r"input 'x' takes shape \(5, 3\)"):
        direct.predict(np.zeros((5, 4), np.float32))


def test_log_model_in_a_file_store(tmp_path, affine_files, monkeypatch):
    h5, nnp, W, b = affine_files
    os.makedirs(tmp_path / "models")
    os.replace(h5, tmp_path / "models" / "params.h5")
    h5 = str(tmp_path / "models" / "params.h5")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mlflow, "start_run", mlflow.start_run)   # unique_run_name patches it
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        mlflow.set_experiment("flavor")
        with mlflow.start_run(run_name="train") as run:
            flavor.log_model("params.h5", "models", nnp=[nnp], checkpoint=[h5])
        assert flavor.get_runid_by_name("train") == run.info.run_id
        assert flavor.get_runid_by_name("train", "flavor") == run.info.run_id
        assert flavor.get_runid_by_name("nobody") is None
        uri = f"runs:/{run.info.run_id}/models"
        with open(flavor.load_model(uri), "rb") as f, open(h5, "rb") as g:
            assert f.read() == g.read()
        assert [os.path.basename(p) for p in flavor.load_model(uri, model="checkpoint")] == \
            ["params.h5"]
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(x), x @ W + b,
                                   rtol=1e-5, atol=1e-5)

        flavor.unique_run_name()
        with mlflow.start_run(run_name="train") as again:
            pass
        assert again.info.run_name == "train-1"
        assert flavor.get_runid_by_name("train-1") == again.info.run_id
    finally:
        mlflow.set_tracking_uri(previous)


def test_bad_paths_and_arguments_say_what(tmp_path, affine_files):
    h5, nnp, _, _ = affine_files
    with pytest.raises(FileNotFoundError, match="save_model: model file 'missing.h5'"):
        flavor.save_model("missing.h5", str(tmp_path / "m1"))
    with pytest.raises(FileNotFoundError, match="save_model: nnp file .*nowhere.nnp"):
        flavor.save_model(h5, str(tmp_path / "m2"), nnp=[str(tmp_path / "nowhere.nnp")])
    assert not os.path.exists(tmp_path / "m2")                     # nothing half-written
    with pytest.raises(TypeError, match="save_model: nnp must be a list"):
        flavor.save_model(h5, str(tmp_path / "m3"), nnp=nnp)
    with pytest.raises(FileNotFoundError, match="load_model: no MLflow model at"):
        flavor.load_model(str(tmp_path / "no_model_here"))

    target = str(tmp_path / "plain")
    flavor.save_model(h5, target)
    with pytest.raises(FileExistsError, match="save_model: path .* not empty"):
        flavor.save_model(h5, target)
    with pytest.raises(ValueError, match="load_model: model must be one of"):
        flavor.load_model(target, model="weights")
    with pytest.raises(FileNotFoundError, match="without nnp files"):
        flavor.load_model(target, model="nnp")
    with pytest.raises(ValueError, match="no network to run"):
        mlflow.pyfunc.load_model(target).predict(np.zeros((1, 3), np.float32))
