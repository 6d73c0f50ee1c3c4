"""nnabla.autolog: monitors and saved parameters logged to an MLflow file store."""
import os

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow")

import nnabla as nn  # noqa: E402
import nnabla.autolog as autolog  # noqa: E402
import nnabla.parametric_functions as PF  # noqa: E402
from nnabla.monitor import Monitor, MonitorImageTile, MonitorSeries  # noqa: E402


def test_autolog_metrics_images_and_parameters(tmp_path):
    previous_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        exp = mlflow.set_experiment("autolog-test")
        autolog.autolog(with_save_parameters=True)
        monitor = Monitor(str(tmp_path / "mon"))
        series = MonitorSeries("loss", monitor, interval=2)
        tiles = MonitorImageTile("img", monitor, interval=3, num_images=2)
        nn.clear_parameters()
        PF.affine(nn.Variable((1, 2)), 3, name="fc")
        with mlflow.start_run(experiment_id=exp.experiment_id) as run:
            for i in range(6):
                series.add(i, float(i * i))
                tiles.add(i, np.random.RandomState(i).rand(2, 1, 4, 4))
            nn.save_parameters(str(tmp_path / "p.h5"))
        autolog.stop_autolog()
        client = mlflow.tracking.MlflowClient()
        history = client.get_metric_history(run.info.run_id, "loss")
        # windows of 2 indices end at 1, 3, 5: means of (0, 1), (4, 9), (16, 25)
        assert [(m.step, m.value) for m in history] == [(1, 0.5), (3, 6.5), (5, 20.5)]
        params = [os.path.basename(f.path) for f in client.list_artifacts(
            run.info.run_id, f"runs_{run.info.run_id}/parameters")]
        assert params == ["p.h5"]
        written = sorted(os.listdir(tiles.save_dir))
        logged = sorted(os.path.basename(f.path) for f in client.list_artifacts(
            run.info.run_id, f"runs_{run.info.run_id}/img"))
        assert logged == written and logged
        # patches removed
        assert MonitorSeries.add is autolog.original_add_series
        assert nn.save_parameters is autolog.original_save_parameters
    finally:
        autolog.stop_autolog()
        mlflow.set_tracking_uri(previous_uri)
        nn.clear_parameters()
