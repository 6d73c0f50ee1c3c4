"""``nnabla.solver``: the Solver base class and solver state (see ``nnabla.solvers``)."""
from .solvers import Solver, SolverState  # noqa: F401
