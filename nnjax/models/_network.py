"""What ``returns_net=True`` gives for a model built with parametric functions:
the attributes of :class:`nnabla.utils.nnp_graph.NnpNetwork`."""
from collections import OrderedDict

from ..utils.nnp_graph import NnpNetwork


class BuiltNetwork(NnpNetwork):
    """A zoo network built with PF: ``inputs``, ``outputs`` and ``variables`` by name
    (the cut points reached under their names in NNabla's model files, and the
    parameters used, by parameter path)."""

    def __init__(self, name, inputs, outputs, variables):  # pylint: disable=super-init-not-called
        self.name = name
        self._inputs = OrderedDict(inputs)
        self._outputs = OrderedDict(outputs)
        self._variables = OrderedDict(variables)

    @property
    def inputs(self):
        return self._inputs

    @property
    def outputs(self):
        return self._outputs

    @property
    def variables(self):
        return self._variables

    def __repr__(self):
        return (f"BuiltNetwork({self.name!r}, inputs={list(self._inputs)}, "
                f"outputs={list(self._outputs)})")
