import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Tests count compiles: programs a previous run left on disk would skip some.
# The compile cache's own tests point it at a temporary directory.
os.environ.setdefault("NNJAX_COMPILE_CACHE", "0")

import nnabla as nn  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_state():
    """Each test starts with no parameters, default modes and a fixed seed."""
    nn.synchronize()
    nn.clear_parameters()
    nn.set_auto_forward(False)
    nn.seed(313)
    yield
    nn.synchronize()
    nn.clear_parameters()
    nn.set_auto_forward(False)


@pytest.fixture
def rng():
    return np.random.RandomState(1234)
