"""flax bridges: an NNabla graph as a flax NNX module, a flax module in an NNabla graph.

``NnablaModule(outputs, inputs)`` is an ``nnx.Module`` computing an NNabla graph (through
``to_jax``): its parameters are ``nnx.Param``, parameters the graph updates in place or
that have ``need_grad=False`` (batch-normalization statistics) are ``nnx.BatchStat``,
all keyed by NNabla's names in ``module.params``. It trains with ``nnx.Optimizer`` +
optax under ``nnx.jit``; ``module.eval()`` switches to the graph given as
``eval_outputs`` (NNabla builds test-mode batch normalization as another graph);
``nnjax.set_parameters(module.parameter_values())`` writes the values back and
``module.read_parameters()`` reads the scope's. Checkpoints cross over: an orbax
checkpoint of ``nnx.to_pure_dict(nnx.state(module))`` restores with
``nnjax.set_parameters(restored["params"])``, an ``nnjax.checkpoint`` one with
``load_checkpoint`` then ``module.read_parameters()``.

``from_flax(module, name)`` makes an NNX module (or a Linen module with its variables)
an NNabla function: its parameters are registered in the current parameter scope under
``name/<path>`` (so NNabla solvers, ``nn.save_parameters`` and checkpoints see them), and
calling it on Variables records one ``from_jax`` node taking the inputs and those
parameters. ``layer.updated_module()`` / ``layer.variables()`` give the flax side the
values the scope now holds. Module state other than parameters (BatchStat, RNG
streams) is held constant inside the node.

This module imports flax; ``import nnabla`` does not import it.
"""
from collections import OrderedDict

import numpy as np
import jax
from flax import linen, nnx

from .. import parameter as _parameter
from ..function import JaxFunction
from .graph_function import to_jax

__all__ = ["NnablaModule", "FlaxLayer", "from_flax"]


class NnablaModule(nnx.Module):
    """An NNabla graph as an NNX module: ``module(*arrays, rng=None)`` returns the
    graph's outputs and updates its BatchStat variables in place.

    Args:
        outputs, inputs: the graph, as for ``to_jax``.
        eval_outputs: the test-mode graph over the same inputs and parameters, used
            after ``module.eval()`` (optional).
        rngs: an ``nnx.Rngs`` whose ``dropout`` stream feeds stochastic functions when
            no ``rng`` is given.
    """

    def __init__(self, outputs, inputs, eval_outputs=None, rngs=None, params=None):
        train_fn, values = to_jax(outputs, inputs, params)
        eval_fn = None
        stats = set(train_fn.state_names) | set(train_fn.frozen_names)
        if eval_outputs is not None:
            eval_fn, eval_values = to_jax(eval_outputs, inputs, params)
            values.update(eval_values)
            stats |= set(eval_fn.state_names) | set(eval_fn.frozen_names)
        self.graphs = nnx.static((train_fn, eval_fn))
        self.params = nnx.Dict({name: (nnx.BatchStat if name in stats else nnx.Param)(value)
                                for name, value in values.items()})
        self.use_running_average = False
        self.rngs = rngs

    def __call__(self, *arrays, rng=None):
        train_fn, eval_fn = self.graphs
        fn = eval_fn if self.use_running_average and eval_fn is not None else train_fn
        if rng is None and fn.rng_functions and self.rngs is not None:
            rng = self.rngs.dropout()
        values = {name: self.params[name][...] for name in fn.param_names}
        outputs, new_state = fn(values, *arrays, rng=rng)
        for name, value in new_state.items():
            self.params[name][...] = value
        return outputs

    def read_parameters(self):
        """Set the module's variables to the values the parameter scope holds now (after
        ``nn.load_parameters``, ``nnjax.checkpoint.load_checkpoint``, an NNabla solver)."""
        for name, var in self.params.items():
            param = _parameter.get_parameter(name)
            if param is None:
                raise KeyError(f"read_parameters: the parameter scope has no {name!r}")
            if tuple(param.shape) != tuple(var[...].shape):
                raise ValueError(f"read_parameters: {name!r} has shape {param.shape} in the "
                                 f"scope, {tuple(var[...].shape)} in the module")
            var[...] = jax.numpy.asarray(np.array(param.d))
        return self

    def parameter_values(self):
        """{NNabla name: array} of every parameter and statistic (for set_parameters)."""
        return {name: var[...] for name, var in self.params.items()}


def _path_name(path):
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


class FlaxLayer:
    """A flax module as an NNabla function (see ``from_flax``)."""

    def __init__(self, module, name, variables=None):
        if not isinstance(name, str) or not name.strip("/"):
            raise ValueError("from_flax: give the name to register the module's parameters "
                             f"under, got {name!r}")
        self.name = name.strip("/")
        if isinstance(module, nnx.Module):
            if variables is not None:
                raise ValueError("from_flax: an NNX module holds its own variables; "
                                 "variables= is for Linen modules")
            self._graphdef, params, self._rest = nnx.split(module, nnx.Param, ...)
            self._module = module
        elif isinstance(module, linen.Module):
            if variables is None or "params" not in variables:
                raise ValueError(f"from_flax: the Linen module {type(module).__name__} needs "
                                 "its variables (module.init(key, ...)) with a 'params' entry")
            params = variables["params"]
            self._rest = {k: v for k, v in variables.items() if k != "params"}
            self._module = module
            self._graphdef = None
        else:
            raise TypeError(f"from_flax: expected a flax nnx.Module or linen.Module, got "
                            f"{type(module).__name__}")
        leaves, self._treedef = jax.tree_util.tree_flatten(params)
        # names stop at flax's Variable objects (an NNX Param's array is its 'value')
        paths = [p for p, _ in jax.tree_util.tree_flatten_with_path(
            params, is_leaf=lambda v: isinstance(v, nnx.Variable))[0]]
        if len(paths) != len(leaves):
            raise TypeError(f"from_flax: the parameters of {type(module).__name__} are not "
                            "one array per variable")
        self.initial = OrderedDict((f"{self.name}/{_path_name(p)}", np.asarray(leaf))
                                   for p, leaf in zip(paths, leaves))
        self._nodes = {}
        self._register()

    def _register(self):
        """The module's parameters, as Variables of the current scope (created from the
        module's values where missing)."""
        return [_parameter.get_parameter_or_create(name, value.shape, value)
                for name, value in self.initial.items()]

    def _params_tree(self, leaves):
        return jax.tree_util.tree_unflatten(self._treedef, list(leaves))

    def _apply(self, n_inputs):
        def apply(*arrays):
            xs, tree = arrays[:n_inputs], self._params_tree(arrays[n_inputs:])
            if self._graphdef is not None:
                return nnx.merge(self._graphdef, tree, self._rest)(*xs)
            return self._module.apply({"params": tree, **self._rest}, *xs)
        return apply

    def __call__(self, *inputs):
        node = self._nodes.get(len(inputs))
        if node is None:
            node = self._nodes[len(inputs)] = JaxFunction(
                self._apply(len(inputs)), name=f"flax:{self.name}")
        return node(*inputs, *self._register())

    def _current_tree(self):
        return self._params_tree(np.array(v.d) for v in self._register())

    def updated_module(self):
        """The NNX module with the values the parameter scope holds now (updated in place)."""
        if self._graphdef is None:
            raise TypeError("updated_module: a Linen module keeps no values; use variables()")
        nnx.update(self._module, self._current_tree())
        return self._module

    def variables(self):
        """The Linen variables with the values the parameter scope holds now."""
        if self._graphdef is not None:
            return {"params": nnx.state(self.updated_module(), nnx.Param)}
        return {"params": self._current_tree(), **self._rest}


def from_flax(module, name, variables=None):
    """A flax module (NNX, or Linen with ``variables``) as an NNabla function whose
    parameters live in the current parameter scope under ``name``."""
    return FlaxLayer(module, name, variables)
