"""Channel-last graphs rebuilt channel-first (see channel_last.py)."""
from .channel_last import _LayoutModifier


class ChannelFirstModifier(_LayoutModifier):
    """Rebuild a channel-last graph channel-first; ``inputs_cf`` as ``inputs_cl`` of
    ChannelLastModifier. New parameters: ``W_cf``, ``beta_cf``, ``gamma_cf``,
    ``mean_cf``, ``var_cf``, ``w_cf`` (NNabla names the weights ``W_cl`` and
    ``w_cl`` both ways, so converting back would overwrite the channel-last ones)."""

    _last = False
    _suffix = "_cf"

    def __init__(self, inputs, inputs_cf=None):
        super().__init__(inputs, inputs_cf)

    @property
    def inputs_cf(self):
        return self._new_inputs_list
