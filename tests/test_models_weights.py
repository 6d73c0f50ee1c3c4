"""nnabla.models: where model files are looked for, the offline error, refusing
broken files, downloading through a temporary file (from a local HTTP server)."""
import functools
import http.server
import os
import shutil
import threading
import time
import zipfile

import numpy as np
import pytest

import nnabla as nn
import nnabla.parametric_functions as PF
from nnabla.models import _weights
from nnabla.models.imagenet import ResNet18
from nnabla.utils.save import save

REL = "imagenet/Resnet-18.nnp"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home (so ~/nnabla_data is empty), no models dir, an unreachable mirror."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(_weights.ENV_MODELS_DIR, raising=False)
    monkeypatch.setenv("NNABLA_MODELS_URL_BASE", "http://127.0.0.1:9/models")
    return tmp_path / "home"


def _small_nnp(path):
    """A real (tiny) .nnp file."""
    with nn.parameter_scope("", {}):
        x = nn.Variable((1, 3))
        y = PF.affine(x, 2, name="fc")
        save(str(path), {"networks": [{"name": "net", "batch_size": 1, "outputs": {"y": y},
                                       "names": {"x": x}}]})
    return str(path)


def test_offline_error_is_fast_and_names_paths_and_url(home):
    start = time.time()
    with pytest.raises(OSError) as e:
        ResNet18()
    assert time.time() - start < 10
    msg = str(e.value)
    cache = os.path.join(str(home), "nnabla_data", "nnp_models", REL)
    assert cache in msg
    assert "http://127.0.0.1:9/models/imagenet/Resnet-18.nnp" in msg
    assert not os.path.exists(cache)
    assert os.listdir(os.path.dirname(cache)) == []  # no partial file left


def test_default_url_is_nnablas(monkeypatch, home):
    monkeypatch.delenv("NNABLA_MODELS_URL_BASE")
    model = ResNet18(pretrained=False)
    assert model.nnp_url == "https://zenodo.org/records/16962677/files/Resnet-18.nnp"
    assert model.nnp_rel_path == REL


def test_truncated_cached_file_is_refused(home, tmp_path):
    good = _small_nnp(tmp_path / "good.nnp")
    cache = os.path.join(str(home), "nnabla_data", "nnp_models", REL)
    os.makedirs(os.path.dirname(cache))
    with open(good, "rb") as f:
        data = f.read()
    with open(cache, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(OSError, match="truncated") as e:
        ResNet18()
    assert cache in str(e.value) and "imagenet/Resnet-18.nnp" in str(e.value)
    # a zip that is no model is refused too
    with zipfile.ZipFile(cache, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(OSError, match="no network"):
        ResNet18()


def test_lookup_order(home, tmp_path, monkeypatch):
    models_dir = tmp_path / "models"
    (models_dir / "imagenet").mkdir(parents=True)
    in_env = _small_nnp(models_dir / REL)
    cache = os.path.join(str(home), "nnabla_data", "nnp_models", REL)
    os.makedirs(os.path.dirname(cache))
    shutil.copy(in_env, cache)
    explicit = _small_nnp(tmp_path / "mine.nnp")
    url = "http://127.0.0.1:9/x.nnp"
    assert _weights.locate_nnp(REL, url) == cache
    monkeypatch.setenv(_weights.ENV_MODELS_DIR, str(models_dir))
    assert _weights.locate_nnp(REL, url) == in_env
    assert _weights.locate_nnp(REL, url, path=explicit) == explicit
    with pytest.raises(OSError, match="does not exist"):
        _weights.locate_nnp(REL, url, path=str(tmp_path / "missing.nnp"))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    (root / "imagenet").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass

    handler.log_message = lambda *a: None
    srv = Quiet(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=10)


def test_download_goes_through_a_checked_temporary_file(home, server, tmp_path):
    root, base = server
    good = _small_nnp(tmp_path / "good.nnp")
    with open(good, "rb") as f:
        data = f.read()
    (root / "imagenet" / "broken.nnp").write_bytes(data[:-40])
    cache_dir = os.path.join(str(home), "nnabla_data", "nnp_models", "imagenet")
    with pytest.raises(OSError, match="downloaded from .*broken.nnp is not usable"):
        _weights.locate_nnp("imagenet/broken.nnp", f"{base}/imagenet/broken.nnp")
    assert os.listdir(cache_dir) == []
    (root / "imagenet" / "good.nnp").write_bytes(data)
    path = _weights.locate_nnp("imagenet/good.nnp", f"{base}/imagenet/good.nnp")
    assert path == os.path.join(cache_dir, "good.nnp")
    assert os.listdir(cache_dir) == ["good.nnp"]
    with open(path, "rb") as f:
        assert f.read() == data
    # the loaded file rebuilds the network it holds
    loader = nn.utils.nnp_graph.NnpLoader(path)
    with nn.parameter_scope("", {}):
        net = loader.get_network("net", batch_size=2)
        x, y = net.inputs["x"], net.outputs["y"]
        x.d = np.arange(6, dtype=np.float32).reshape(2, 3)
        y.forward()
        w, b = nn.get_parameters()["fc/affine/W"].d, nn.get_parameters()["fc/affine/b"].d
    np.testing.assert_allclose(y.d, x.d @ w + b, rtol=1e-6)
