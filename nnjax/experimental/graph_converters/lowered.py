"""The inference rewrites on the lowered graph: a pure JAX function, no new Variables.

``jax_inference_function(outputs, inputs)`` returns ``(fn, params)`` with
``fn(params, *arrays)`` computing ``outputs`` from the graph's function lowerings,
rewritten while it is traced:

* ``fold_batch_norm``: a test-mode BatchNormalization after a Convolution,
  Deconvolution or Affine (its only consumer) is folded into that function's weight
  and bias inside ``fn`` (from the ``params`` passed in, so trained values fold too);
* ``channel_last``: convolutions and poolings of channel-first graphs run NHWC
  (transposes at their boundaries, which XLA cancels between neighbours);
* ``compute_dtype`` (``jnp.bfloat16`` or ``jnp.float16``): matrix-multiply and
  convolution functions compute on that type, every result is kept in float32.

``fn`` can be jitted, exported to StableHLO (``jax.export``) or run on any device.
"""
import jax.numpy as jnp
import numpy as np

from ..._plan import call_lowering, functions_in_order
from ..._variable import Variable
from .batch_normalization_folding import FOLDABLE, can_fold_after, folded_after
from .graph_converter import parameter_name_of, present_input_names

MATMUL = ("Convolution", "Deconvolution", "DepthwiseConvolution", "DepthwiseDeconvolution",
          "Affine", "BatchMatmul")
LAYOUT = ("Convolution", "Deconvolution", "MaxPooling", "AveragePooling", "SumPooling")


def _as_list(name, v):
    vs = list(v) if isinstance(v, (list, tuple)) else [v]
    for i, x in enumerate(vs):
        if not isinstance(x, Variable):
            raise TypeError(f"jax_inference_function: {name}[{i}] is a {type(x).__name__}, "
                            "not an nn.Variable")
    return vs


def _folds(funcs, outputs):
    """{ip function: BN function} for the BNs that fold into the function before them."""
    consumers = {}
    for f in funcs:
        for v in f.inputs:
            consumers[id(v)] = consumers.get(id(v), 0) + 1
    for v in outputs:
        consumers[id(v)] = consumers.get(id(v), 0) + 1
    folds = {}
    for f in funcs:
        if f.info.type_name != "BatchNormalization" or f.info.args["batch_stat"]:
            continue
        ip = f.inputs[0].parent
        if (ip is not None and ip.info.type_name in FOLDABLE
                and consumers.get(id(f.inputs[0])) == 1 and can_fold_after(ip, f)):
            folds[ip] = f
    return folds


class _Interpreter:
    """Runs the graph's functions on JAX arrays, applying the rewrites."""

    def __init__(self, funcs, folds, channel_last, compute_dtype):
        self.funcs = funcs
        self.folds = folds
        self.folded_bns = set(folds.values())
        self.channel_last = channel_last
        self.compute_dtype = compute_dtype

    def run(self, env):
        for f in self.funcs:
            if f in self.folded_bns:
                env[id(f.outputs[0])] = env[id(f.inputs[0])]
                continue
            values = [None if v is None else env[id(v)] for v in f._inputs]
            if f in self.folds:
                values = self._fold(f, values, env)
            outs = self._call(f, values)
            for o, value in zip(f.outputs, outs):
                env[id(o)] = value
        return env

    def _fold(self, ip, values, env):
        bn = self.folds[ip]
        p = {n: env[id(v)].reshape(-1)
             for n, v in zip(present_input_names(bn)[1:], bn.inputs[1:])}
        var = p["variance"].astype(jnp.float32)
        gamma = p.get("gamma", jnp.ones_like(var))
        c0 = gamma / jnp.sqrt(var + bn.info.args["eps"])
        c1 = p.get("beta", jnp.zeros_like(var)) - c0 * p["mean"]
        values = list(values) + [None] * (3 - len(values))
        w, b = folded_after(ip.info.type_name, ip.info.args, values[1], values[2], c0, c1, jnp)
        return [values[0], w, b] + values[3:]

    def _call(self, f, values):
        kind = f.info.type_name
        args = dict(f.lower_args)
        to_last = (self.channel_last and kind in LAYOUT and not args.get("channel_last")
                   and values[0].ndim >= 3)
        if to_last:
            args["channel_last"] = True
            values = [jnp.moveaxis(values[0], 1, -1)] + [
                None if v is None else (jnp.moveaxis(v, 1, -1) if k == 1 else v)
                for k, v in enumerate(values) if k > 0]
        if self.compute_dtype is not None and kind in MATMUL:
            values = [v if v is None or not jnp.issubdtype(v.dtype, jnp.floating)
                      else v.astype(self.compute_dtype) for v in values]
        outs, _ = call_lowering(f.spec, args, f.python_function, None, values)
        if self.compute_dtype is not None and kind in MATMUL:
            outs = tuple(o.astype(jnp.float32) for o in outs)
        if to_last:
            outs = tuple(jnp.moveaxis(o, -1, 1) for o in outs)
        return outs


def jax_inference_function(outputs, inputs=(), fold_batch_norm=True, channel_last=False,
                           compute_dtype=None):
    """``(fn, params)``: ``fn(params, *arrays)`` computes ``outputs`` with the
    rewrites; ``params`` maps the registered parameters the graph reads (by name) to
    their current values. ``inputs``: the Variables ``arrays`` stand for; other
    unnamed leaves are constants. ``fn.folded_batch_norms`` counts the folded BNs."""
    outs = _as_list("outputs", outputs)
    ins = _as_list("inputs", inputs)
    funcs = functions_in_order(outs)
    for f in funcs:
        if f.spec.rng:
            raise ValueError(f"jax_inference_function: {f.info.type_name} draws random "
                             "numbers; convert the graph to test mode first")
    if compute_dtype is not None and jnp.dtype(compute_dtype) not in (
            jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)):
        raise ValueError(f"jax_inference_function: compute_dtype must be bfloat16 or "
                         f"float16, got {compute_dtype}")
    leaves, params, constants = {}, {}, {}
    for f in funcs:
        for v in f.inputs:
            if v.parent is not None or id(v) in leaves:
                continue
            position = next((i for i, x in enumerate(ins) if x == v), None)
            name = parameter_name_of(v)
            if position is not None:
                leaves[id(v)] = ("input", position)
            elif name is not None:
                leaves[id(v)] = ("param", name)
                params[name] = jnp.asarray(np.asarray(v.d))
            else:
                leaves[id(v)] = ("constant", id(v))
                constants[id(v)] = jnp.asarray(np.asarray(v.d))
    folds = _folds(funcs, outs) if fold_batch_norm else {}
    interpreter = _Interpreter(funcs, folds, channel_last, compute_dtype)
    single = not isinstance(outputs, (list, tuple))

    def fn(param_values, *arrays):
        if len(arrays) != len(ins):
            raise TypeError(f"jax_inference_function: fn takes {len(ins)} input array(s), "
                            f"got {len(arrays)}")
        env = {}
        for key, (kind, where) in leaves.items():
            env[key] = (arrays[where] if kind == "input" else
                        param_values[where] if kind == "param" else constants[where])
        env = interpreter.run(env)
        results = [env[id(v)] for v in outs]
        return results[0] if single else results

    fn.folded_batch_norms = len(folds)
    return fn, params
