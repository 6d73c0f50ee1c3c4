"""The status table: ``python -m nnjax.functions --status`` / ``--markdown PATH``."""
import os
import re
import subprocess
import sys

import nnabla.parametric_functions as PF
from nnjax import _status
from nnjax._registry import REGISTRY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_function_list_is_nnablas():
    types = [n for names in _status.FUNCTION_TYPES.values() for n in names]
    assert len(types) == 228 and len(set(types)) == 228
    assert len(_status.FUNCTION_TYPES) == 15
    assert len(_status.FUNCTION_TYPES["Stochasticity"]) == 15
    assert "LSTMCell" in _status.PARAMETRIC_FUNCTIONS


def test_collect_matches_registry():
    status = _status.collect()
    done = {name for _, name, ok in status["functions"] if ok}
    known = {name for _, name, _ in status["functions"]}
    assert done == known & set(REGISTRY)
    assert set(status["extra"]) == set(REGISTRY) - known
    pf_done = {name for name, ok in status["parametric"] if ok}
    assert pf_done == {n for n in _status.PARAMETRIC_FUNCTIONS if callable(getattr(PF, n, None))}
    # the categories this module's author implemented are complete
    for cat in ("Signal Processing", "Stochasticity", "Loss Functions",
                "Geometric Neural Network Layers", "Quantization Neural Network Layers",
                "Validation", "Unsupported, Special Use"):
        assert all(ok for c, _, ok in status["functions"] if c == cat), cat


def test_command_line(tmp_path):
    md = tmp_path / "STATUS.md"
    proc = subprocess.run([sys.executable, "-m", "nnjax.functions", "--status", "--markdown",
                           str(md)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    n_done = sum(1 for n in REGISTRY if n in {x for v in _status.FUNCTION_TYPES.values()
                                               for x in v})
    assert f"Function types: {n_done}/228 implemented" in out
    for names in _status.FUNCTION_TYPES.values():
        for name in names:
            mark = "x" if name in REGISTRY else " "
            assert f"  [{mark}] {name}\n" in out
    pf_done = sum(1 for n in _status.PARAMETRIC_FUNCTIONS if callable(getattr(PF, n, None)))
    assert (f"Parametric functions: {pf_done}/{len(_status.PARAMETRIC_FUNCTIONS)} implemented"
            in out)
    text = md.read_text()
    assert f"Function types: **{n_done}/228** implemented" in text
    rows = re.findall(r"^\| (\w+) \| (yes|no) \|$", text, re.M)
    assert len(rows) == 228 + len(_status.PARAMETRIC_FUNCTIONS)
    for name, ok in rows[:228]:
        assert (ok == "yes") == (name in REGISTRY)
