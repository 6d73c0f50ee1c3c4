"""Activation PFs: prelu."""
from .. import functions as F
from ..initializer import ConstantInitializer
from .core import _param, parametric_function_api


@parametric_function_api("prelu", [
    ("slope", "Negative slope", "tuple() if shared else (inp.shape[base_axis],)", True)])
def prelu(inp, base_axis=1, shared=True, fix_parameters=False, slope_init=None):
    """PReLU: ``prelu/slope`` of shape () when ``shared``, else (inp.shape[base_axis],);
    initialized to 0.25."""
    shape = tuple() if shared else (int(inp.shape[base_axis]),)
    if slope_init is None:
        slope_init = ConstantInitializer(0.25)
    w = _param("slope", shape, slope_init, True, fix_parameters)
    return F.prelu(inp, w, base_axis)
