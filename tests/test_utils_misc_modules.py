"""nnabla.utils.download/callback/rnn packing and the experimental parametric
function classes, against numpy references and files the tests write."""
import os

import numpy as np
import pytest

import nnabla as nn
import nnabla.experimental.parametric_function_class as P
import nnabla.utils.callback as util_callback
import nnabla.utils.download as download
import nnabla.utils.rnn as rnn_utils


def test_download_uses_the_cache_and_fails_fast_offline(tmp_path):
    cached = tmp_path / "weights.bin"
    cached.write_bytes(b"\x01\x02")
    with download.download("http://example.invalid/weights.bin", str(cached)) as f:
        assert f.read() == b"\x01\x02"          # kept: nothing is fetched
    source = tmp_path / "src.bin"
    source.write_bytes(b"abc" * 1000)
    out = tmp_path / "copy.bin"
    assert download.download(source.as_uri(), str(out), open_file=False) is None
    assert out.read_bytes() == b"abc" * 1000
    with pytest.raises(ConnectionError, match="example.invalid"):
        download.download("http://example.invalid/x.bin", str(tmp_path / "x.bin"))
    assert not any(p.name.startswith("x.bin") for p in tmp_path.iterdir())


def test_util_callbacks_default_and_dispatch(monkeypatch):
    assert util_callback.get_timelimit(None) == -1
    assert util_callback.get_best_from_status(None) == (None, None)
    assert util_callback.check_training_time(None, None, None, 0, 1) is True

    class Plugin:
        @staticmethod
        def get_timelimit(args):
            return args * 2
    monkeypatch.setattr(util_callback, "callback_list", [Plugin])
    assert util_callback.get_timelimit(21) == 42
    assert util_callback.get_callback_version() is None


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_round_trip(batch_first):
    rs = np.random.RandomState(3)
    lengths = [2, 4, 3]
    seqs = [rs.randn(n, 2).astype(np.float32) for n in lengths]
    ref = np.zeros((3, 4, 2), np.float32)       # (B, T, D)
    for b, s in enumerate(seqs):
        ref[b, :len(s)] = s
    variables = [nn.Variable.from_numpy_array(s) for s in seqs]
    with nn.auto_forward():
        padded = rnn_utils.pad_sequence(variables, batch_first)
        packed = rnn_utils.pack_sequence(variables, enforce_sorted=False)
        unpacked, out_lengths = rnn_utils.pad_packed_sequence(packed, batch_first)
    want = ref if batch_first else ref.transpose(1, 0, 2)
    np.testing.assert_array_equal(padded.d, want)
    np.testing.assert_array_equal(unpacked.d, want)
    np.testing.assert_array_equal(out_lengths.d, lengths)
    # packed rows: time step by time step over the sequences sorted longest first
    order = np.argsort(lengths)[::-1]
    rows = [seqs[b][t] for t in range(4) for b in order if t < lengths[b]]
    np.testing.assert_array_equal(packed.data.d, np.stack(rows))
    np.testing.assert_array_equal(packed.batch_sizes.d, [3, 3, 2, 1])
    with pytest.raises(ValueError, match="total_length"):
        rnn_utils.pad_packed_sequence(packed, batch_first, 0.0, total_length=2)


def test_parametric_function_classes_compute_and_round_trip(tmp_path):
    rs = np.random.RandomState(4)

    class Net(P.Module):
        def __init__(self):
            self.conv = P.Conv2d(2, 3, (3, 3), pad=(1, 1))
            self.bn = P.BatchNorm2d(3)
            self.fc = P.Linear(3 * 4 * 4, 2)

        def __call__(self, x, test=False):
            return self.fc(self.bn(self.conv(x), test))
    net = Net()
    assert list(net.get_parameters()) == ["conv/W", "conv/b", "bn/beta", "bn/gamma",
                                          "fc/W", "fc/b"]
    assert list(net.get_parameters(grad_only=False))[4:6] == ["bn/mean", "bn/var"]
    x = rs.randn(2, 2, 4, 4).astype(np.float32)
    y = net(nn.Variable.from_numpy_array(x), test=True)
    y.forward()
    # reference: conv (cross-correlation, zero pad 1), identity BN (mean 0, var 1), affine
    w, b = net.conv.W.d, net.conv.b.d
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    conv = np.zeros((2, 3, 4, 4), np.float32)
    for i in range(4):
        for j in range(4):
            conv[:, :, i, j] = np.einsum("ncij,ocij->no", xp[:, :, i:i + 3, j:j + 3], w) + b
    bn = conv / np.sqrt(1 + 1e-5)
    ref = bn.reshape(2, -1) @ net.fc.W.d + net.fc.b.d
    np.testing.assert_allclose(y.d, ref, rtol=1e-4, atol=1e-5)
    path = str(tmp_path / "net.h5")
    net.save_parameters(path)
    saved = net.fc.W.d.copy()
    net.fc.W.d = 0
    net.load_parameters(path)
    np.testing.assert_array_equal(net.fc.W.d, saved)
    assert nn.get_parameters() == {}          # nothing went to the global scope
    deconv = P.Deconv2d(3, 5, (2, 2), stride=(2, 2))
    assert deconv.W.shape == (3, 5, 2, 2)
    assert deconv(nn.Variable((1, 3, 4, 4))).shape == (1, 5, 8, 8)
    emb = P.Embed(6, 2)
    out = emb(nn.Variable.from_numpy_array(np.array([5, 0])))
    out.forward()
    np.testing.assert_array_equal(out.d, emb.W.d[[5, 0]])
    with pytest.raises(ValueError, match="shape"):
        P.Affine(3, 2, w_init=np.zeros((2, 3)))


def _events(log_dir):
    """Events of tensorboardX files (TFRecord framing: length, crc, data, crc)."""
    from tensorboardX.proto import event_pb2
    events = []
    for name in sorted(os.listdir(log_dir)):
        with open(os.path.join(log_dir, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            length = int.from_bytes(data[pos:pos + 8], "little")
            events.append(event_pb2.Event.FromString(data[pos + 12:pos + 12 + length]))
            pos += 12 + length + 4
    return events


def test_tb_graph_writer_writes_functions_and_variables(tmp_path):
    pytest.importorskip("tensorboardX")
    import nnabla.functions as F
    import nnabla.parametric_functions as PF
    from nnabla.experimental.tb_graph_writer import TBGraphWriter
    from tensorboardX.proto.graph_pb2 import GraphDef
    nn.clear_parameters()
    x = nn.Variable((2, 3))
    with nn.parameter_scope("fc"):
        y = F.relu(PF.affine(x, 4))
    with TBGraphWriter(log_dir=str(tmp_path)) as tb:
        tb.from_variable(y, output_name="y")
    graphs = [GraphDef.FromString(e.graph_def) for e in _events(str(tmp_path)) if e.graph_def]
    assert len(graphs) == 1
    nodes = {n.name: n for n in graphs[0].node}
    affine = nodes["fc/affine/Affine0"]
    assert affine.op == "Affine" and list(affine.input) == ["Input_0", "fc/affine/W", "fc/affine/b"]
    assert [d.size for d in nodes["fc/affine/W"].attr["shape"].shape.dim] == [3, 4]
    assert [d.size for d in nodes["Input_0"].attr["shape"].shape.dim] == [2, 3]
    assert list(nodes["ReLU0"].input) == ["fc/affine/Affine0/v_0"]
    assert nodes["ReLU0"].op == "ReLU" and list(nodes["y"].input) == ["ReLU0"]
    nn.clear_parameters()


def test_png_backend_round_trips_16_bit_color(tmp_path):
    pytest.importorskip("png")
    from nnabla.utils import image_utils
    rs = np.random.RandomState(5)
    img = rs.randint(0, 65536, size=(3, 4, 3)).astype(np.uint16)
    path = str(tmp_path / "c16.png")
    before = image_utils.get_backend()
    image_utils.set_backend("PngBackend")
    try:
        image_utils.imsave(path, img, as_uint16=True)
        back = image_utils.imread(path, as_uint16=True)
        np.testing.assert_array_equal(back, img)
        gray = image_utils.imread(path, as_uint16=True, grayscale=True)
        ref = (img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).astype(np.uint16)
        np.testing.assert_array_equal(gray, ref)
        rgba = image_utils.imread(path, as_uint16=True, num_channels=4, channel_first=True)
        assert rgba.shape == (4, 3, 4) and (rgba[3] == 65535).all()
    finally:
        image_utils.set_backend(before)
    with pytest.raises(ValueError, match="not available"):
        image_utils.set_backend("NoSuchBackend")


def test_slices_of_a_shuffled_iterator_never_overlap_in_a_batch():
    from nnabla.utils.data_iterator import data_iterator_simple
    di = data_iterator_simple(lambda i: (np.array([i]),), 20, 7, shuffle=True,
                              rng=np.random.RandomState(0))
    slices = [di.slice(None, num_of_slices=2, slice_pos=p, drop_last=True) for p in range(2)]
    for _ in range(10):           # batches of 7 from slices of 10 cross epochs often
        batches = [set(s.next()[0].ravel().tolist()) for s in slices]
        assert not batches[0] & batches[1]
    for s in slices + [di]:
        s.close()


def test_function_profile_counts_profiled_calls(capsys):
    import nnabla.utils.function_profile as fp

    def work(n, profile_me=True):
        return sum(range(n))
    wrapped = fp.profile(condition=lambda n, profile_me=True: profile_me)(work)
    assert wrapped(10) == 45 and wrapped(4, profile_me=False) == 6 and wrapped(3) == 3
    assert wrapped.profiler.ncalls == 2 and wrapped.__name__ == "work"
    wrapped.profiler.print_stats(reset=True)
    out = capsys.readouterr().out
    assert "--- Function Profiling ---" in out and "function work" in out
    assert wrapped.profiler.ncalls == 0


def test_audio_wav_round_trip_and_scaling(tmp_path):
    pytest.importorskip("pydub")
    from nnabla.utils import audio_utils
    rs = np.random.RandomState(6)
    audio = rs.randint(-30000, 30000, size=(400, 2)).astype(np.int16)
    path = str(tmp_path / "a.wav")
    audio_utils.ausave(path, audio.T, channel_first=True)
    np.testing.assert_array_equal(audio_utils.auread(path), audio)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(audio_utils.auread(f, channel_first=True), audio.T)
    scaled = audio_utils.minmax_auto_scale(np.array([[-2.0], [0.0], [2.0]]), np.int16)
    np.testing.assert_array_equal(scaled.ravel(), [-32768, 0, 32767])
    assert audio_utils.auresize(audio, (200, 1)).shape == (200, 1)
    with pytest.raises(ValueError, match="integer"):
        audio_utils.ausave(path, audio.astype(np.float32))
    with pytest.raises(ValueError, match="not available"):
        audio_utils.set_backend("sox")


def test_cv2_backend_keeps_rgb_order_and_16_bits(tmp_path):
    pytest.importorskip("cv2")
    from nnabla.utils import image_utils
    rs = np.random.RandomState(7)
    img = rs.randint(0, 65536, size=(5, 6, 4)).astype(np.uint16)   # RGBA
    path = str(tmp_path / "c.png")
    before = image_utils.get_backend()
    image_utils.set_backend("Cv2Backend")
    try:
        image_utils.imsave(path, img, as_uint16=True)
        np.testing.assert_array_equal(image_utils.imread(path, as_uint16=True), img)
        rgb = image_utils.imread(path, as_uint16=True, num_channels=3)
        np.testing.assert_array_equal(rgb, img[..., :3])
        small = image_utils.imresize(img[..., :3], (3, 2), interpolate="nearest")
        assert small.shape == (2, 3, 3) and small.dtype == np.uint16
    finally:
        image_utils.set_backend(before)
    # the Pillow backend reads the same file in the same channel order (8-bit)
    np.testing.assert_array_equal(image_utils.imread(path, num_channels=3),
                                  (img[..., :3] >> 8).astype(np.uint8))
