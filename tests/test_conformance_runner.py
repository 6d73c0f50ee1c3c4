"""The conformance runner (``python -m conformance``) on a small fake NNabla
checkout whose outcomes are planted: counts, failure reasons, the timeout of
a file that sleeps past the limit, ``--merge`` and the not-run list."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

CONFTEST = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("planted setup error")
"""

PASSING = """
import nnabla

def test_alias():
    import nnjax
    assert nnabla is nnjax

def test_two():
    assert 1 + 1 == 2

def test_on_cuda():          # deselected by -k "not cuda and not cudnn"
    raise AssertionError("must not run")
"""

MIXED = """
import pytest

def test_ok():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_fails(n):
    raise ValueError("planted failure")

def test_errors(broken):
    pass

@pytest.mark.skip(reason="planted skip")
def test_skipped():
    pass
"""

SLEEPY = """
import time

def test_quick():
    pass

def test_sleeps():
    time.sleep(60)
"""


def _checkout(tmp_path):
    test = tmp_path / "nnabla" / "python" / "test"
    (test / "sub").mkdir(parents=True)
    (test / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (test / "sub" / "test_pass.py").write_text(textwrap.dedent(PASSING))
    (test / "sub" / "test_mixed.py").write_text(textwrap.dedent(MIXED))
    (test / "sub" / "test_unrun.py").write_text("def test_x():\n    pass\n")
    (test / "test_sleepy.py").write_text(textwrap.dedent(SLEEPY))
    return tmp_path / "nnabla"


def _run(checkout, out, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "conformance", str(checkout), *args,
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out.parent / "conformance.json").read_text()), out.read_text()


def test_runner_counts_reasons_timeout_and_merge(tmp_path):
    checkout = _checkout(tmp_path)
    out = tmp_path / "docs" / "CONFORMANCE.md"

    results, _ = _run(checkout, out, "sub/test_pass.py")
    passing = results["files"]["sub/test_pass.py"]
    assert (passing["tests"], passing["passed"], passing["failed"], passing["errors"],
            passing["skipped"], passing["status"]) == (2, 2, 0, 0, 0, "ok")

    results, md = _run(checkout, out, "sub/test_mixed.py", ".", "--timeout", "2",
                       "--jobs", "2", "--merge")
    files = results["files"]
    assert set(files) == {"sub/test_pass.py", "sub/test_mixed.py", "test_sleepy.py"}
    assert files["sub/test_pass.py"] == passing            # kept by --merge

    mixed = files["sub/test_mixed.py"]
    assert (mixed["tests"], mixed["passed"], mixed["failed"], mixed["errors"],
            mixed["skipped"]) == (5, 1, 2, 1, 1)
    assert mixed["status"] == "failures" and mixed["group"] == "sub"
    reasons = dict((r, n) for r, n in mixed["reasons"])
    assert reasons == {"ValueError: planted failure": 2,
                       "RuntimeError: planted setup error": 1}
    assert mixed["reasons"][0] == ["ValueError: planted failure", 2]   # most common first

    sleepy = files["test_sleepy.py"]
    assert sleepy["status"] == "timeout" and sleepy["group"] == "."
    assert sleepy["passed"] == 1                            # reached before the kill
    assert 2 <= sleepy["seconds"] < 30

    assert mixed["snapshot"] == sleepy["snapshot"]         # the nnjax commit they ran on
    assert f"| `sub/test_mixed.py` ({mixed['snapshot']}) | 5 | 1 | 2 | 1 | 1 |" in md
    assert "`ValueError: planted failure` ×2" in md
    assert "`RuntimeError: planted setup error` ×1" in md
    assert f"| `test_sleepy.py` ({sleepy['snapshot']}) | ≥1 (timeout) |" in md
    assert "timeout after 2 s" in md
    assert "**Total** (2 files): 7 tests, 3 passed (42.9%)" in md
    assert "Not run yet (1 files): `test_unrun.py`" in md
    assert len(results["runs"]) == 2


def test_stopping_the_runner_ends_its_test_processes(tmp_path):
    """SIGTERM to the runner kills the pytest run it started (no orphan keeps going)."""
    import signal
    import time
    test_dir = tmp_path / "nnabla" / "python" / "test" / "function"
    test_dir.mkdir(parents=True)
    marker = tmp_path / "still_running"
    (test_dir / "test_sleepy.py").write_text(textwrap.dedent(f"""
        import pathlib, time

        def test_sleeps():
            for _ in range(600):
                pathlib.Path({str(marker)!r}).write_text(str(time.time()))
                time.sleep(0.1)
        """))
    out = tmp_path / "report" / "CONFORMANCE.md"
    runner = subprocess.Popen([sys.executable, "-m", "conformance", str(tmp_path / "nnabla"),
                               "function", "--timeout", "60", "--out", str(out)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), "the planted test never started"
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=30) != 0
    time.sleep(1.0)
    last = marker.read_text()
    time.sleep(1.0)
    assert marker.read_text() == last, "the test process kept running after the runner ended"


def test_report_explains_failing_files_and_rates_non_skipped():
    from conformance import report
    entry = dict(file="function/test_scatter_add.py", group="function", tests=10, passed=4,
                 failed=2, errors=0, skipped=4, seconds=1.0, reasons=[["boom", 2]])
    clean = dict(file="function/test_abs.py", group="function", tests=3, passed=3, failed=0,
                 errors=0, skipped=0, seconds=1.0, reasons=[])
    text = report.render({"files": {e["file"]: e for e in (entry, clean)}, "runs": []})
    assert "| `function/` | 2 of ? | 13 | 7 | 53.8% | 77.8% |" in text
    why = text.split("## Why the remaining files fail", 1)[1].split("\n## ", 1)[0]
    assert "newshape" in why and "test_scatter_add.py" in why
    assert "test_abs.py" not in why


LEAVES_STATE = """
import nnabla as nn

def test_starts_clean_and_leaves_a_parameter():
    assert nn.get_parameters() == {}
    nn.parameter.get_parameter_or_create("w", (2,))
    assert list(nn.get_parameters()) == ["w"]
"""

CRASHES = """
import os, signal

def test_ok():
    pass

def test_crashes():
    os.kill(os.getpid(), signal.SIGSEGV)
"""


def test_each_file_gets_a_fresh_process_forked_or_spawned(tmp_path):
    """Forked children (the default) keep files apart as new interpreters do: a
    parameter one file registers is not seen by the next, and a file that
    crashes its process is reported as a crash, not taken for the runner's."""
    test = tmp_path / "nnabla" / "python" / "test" / "core"
    test.mkdir(parents=True)
    (test / "test_first.py").write_text(textwrap.dedent(LEAVES_STATE))
    (test / "test_second.py").write_text(textwrap.dedent(LEAVES_STATE))
    (test / "test_crash.py").write_text(textwrap.dedent(CRASHES))
    for mode in ([], ["--spawn"]):
        out = tmp_path / "-".join(["report", *mode]) / "CONFORMANCE.md"
        results, _ = _run(tmp_path / "nnabla", out, "core", *mode)
        files = results["files"]
        for name in ("core/test_first.py", "core/test_second.py"):
            assert (files[name]["passed"], files[name]["status"]) == (1, "ok"), (mode, files[name])
        crash = files["core/test_crash.py"]
        assert crash["status"] == "crash" and crash["returncode"] == -11, (mode, crash)
        assert results["runs"][-1]["processes"] == ("spawned" if mode else "forked")


def test_files_run_longest_first_by_their_last_seconds():
    from conformance.runner import longest_first
    known = {"files": {"a.py": {"seconds": 5.0}, "b.py": {"seconds": 50.0},
                       "c.py": {"seconds": 0.5}}}
    assert longest_first(["a.py", "b.py", "c.py", "new.py"], known) == [
        "new.py", "b.py", "a.py", "c.py"]
    assert longest_first(["a.py", "b.py"], None) == ["a.py", "b.py"]
