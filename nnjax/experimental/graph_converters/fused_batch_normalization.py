"""``BatchNormalization -> Add2 -> ReLU`` blocks fused into one FusedBatchNormalization."""
import numpy as np

from ... import functions as F
from ...parameter import parameter_scope
from .graph_converter import FunctionModifier, parameter_holding

NONLINEAR = {"ReLU": "relu"}


def _only_consumer(var):
    refs = var.alive_consumers()
    return refs[0] if len(refs) == 1 else None


class FusedBatchNormalizationModifier(FunctionModifier):
    """Each ``BN -> Add2 -> ReLU`` chain (each output used once) becomes
    FusedBatchNormalization with parameters ``fused<scope>-<n>/bn/{beta,gamma,mean,var}``
    (NNabla's names) holding the BN's values."""

    def __init__(self):
        super().__init__()
        self._cnt = 1
        self._blocks = {}  # Add2 -> BN ; ReLU -> (BN, Add2)
        self._residual = {}  # ReLU -> the new z

    def _block_of(self, bn):
        add = _only_consumer(bn.outputs[0])
        if add is None or add.info.type_name != "Add2":
            return None
        act = _only_consumer(add.outputs[0])
        if act is None or act.info.type_name not in NONLINEAR:
            return None
        if len(bn.inputs) != 5:
            return None
        return add, act

    def modify(self, f, inputs):
        kind = f.info.type_name
        if kind == "BatchNormalization":
            block = self._block_of(f)
            if block is None:
                return None
            add, act = block
            self._blocks[add] = f
            self._blocks[act] = (f, add)
            return inputs[0]
        if kind == "Add2" and f in self._blocks:
            bn = self._blocks[f]
            k = 0 if f.inputs[0] == bn.outputs[0] else 1
            for act, value in self._blocks.items():
                if isinstance(value, tuple) and value[1] is f:
                    self._residual[act] = inputs[1 - k]
            return inputs[k]
        if f in self._residual:
            bn, _ = self._blocks[f]
            args = dict(bn.info.args)
            scope = self.get_parameter_scope(bn.inputs[0])
            name = "fused{}-{}".format(scope, self._cnt)
            self._cnt += 1
            with parameter_scope(name + "/bn"):
                params = [parameter_holding(n, np.asarray(v.d), v.need_grad)
                          for n, v in zip(("beta", "gamma", "mean", "var"), bn.inputs[1:5])]
            h = F.fused_batch_normalization(
                inputs[0], *params, self._residual[f], axes=args["axes"],
                decay_rate=args["decay_rate"], eps=args["eps"], batch_stat=args["batch_stat"],
                nonlinearity=NONLINEAR[f.info.type_name])
            return h
        return None

    def __finish__(self):
        self._cnt = 1
        self._blocks = {}
        self._residual = {}
