"""``nnabla.solver``: the Solver base class, solver state and the solvers themselves (NNabla's
``nnabla.solver`` exposes each solver by name too, e.g. ``nnabla.solver.Adam(alpha)``)."""
from .solvers import *  # noqa: F401,F403
from .solvers import Solver, SolverState  # noqa: F401
