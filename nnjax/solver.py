"""``nnabla.solver``: the Solver base class, solver state and the solver classes
(the same classes as ``nnabla.solvers``, which NNabla builds in this module)."""
from .solvers import Solver, SolverState  # noqa: F401
from .solvers import (Sgd, SgdW, Momentum, Lars, Nesterov, Adadelta, Adagrad,  # noqa: F401
                      AdaBelief, RMSprop, RMSpropGraves, Adam, AdamW, AdaBound, Adamax,
                      AMSGRAD, AMSBound, Lamb, Lion)
