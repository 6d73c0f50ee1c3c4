"""The SavedModel nnjax writes: onnx2tf's model behind a signature in the NNP's layout.

onnx2tf computes in NHWC and returns some outputs channel-last; which ones is
its own decision (and where C == H == W it even takes the input channel-last,
though asked to keep its shape), so it cannot be read from the shapes. The ONNX
model is run in onnxruntime and in the converted model on one random batch,
and the inputs (as given, or channel axis moved last) and each output (as
returned, or channel axis moved back from last to 1) get the axis order under
which the two agree. The new ``serving_default`` takes and returns tensors in
the NNP's layout, named after the NNP's variables.
"""
import re

import numpy as np
from onnx import helper

__all__ = ["save_in_nnp_layout"]


def _tf_name(name):
    return re.sub(r"[^A-Za-z0-9_.\-/]", "_", name)


def _sample_inputs(model):
    rng = np.random.RandomState(0)
    feeds = {}
    for value in model.graph.input:
        t = value.type.tensor_type
        dtype = helper.tensor_dtype_to_np_dtype(t.elem_type)
        shape = [d.dim_value for d in t.shape.dim]
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.randn(*shape).astype(dtype)
        else:
            feeds[value.name] = np.zeros(shape, dtype)
    return feeds


def _onnxruntime_outputs(model, feeds):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))


def _match(keys, names, what):
    """{onnx name: onnx2tf key}: by name, else by position (onnx2tf's SavedModel
    names its outputs ``output_0``, ``output_1``, ... in the ONNX order)."""
    if set(names) <= set(keys):
        return {n: n for n in names}
    if len(keys) == len(names) == 1:
        return {names[0]: keys[0]}
    positional = [f"output_{i}" for i in range(len(names))]
    if what == "outputs" and set(keys) == set(positional):
        return dict(zip(names, positional))
    raise ValueError(f"onnx2tf's {what} {sorted(keys)} do not match the network's {names}")


def _channel_last(ndim):
    return [0] + list(range(2, ndim)) + [1]


def _channel_first(ndim):
    return [0, ndim - 1] + list(range(1, ndim - 1))


def _transpose(value, perm):
    return value if perm is None else np.transpose(value, perm)


def _axis_order(got, expected):
    """The permutation (None: as is) turning ``got`` into ``expected``, or False."""
    for perm in [None] + ([_channel_first(got.ndim)] if got.ndim >= 3 else []):
        value = _transpose(got, perm)
        if value.shape == expected.shape and np.allclose(value, expected, rtol=1e-3, atol=1e-4):
            return perm
    return False


def _input_orders(feeds, accepted):
    """Candidate input permutations: all as given, then channel axes moved last."""
    candidates = [{n: None for n in feeds},
                  {n: _channel_last(v.ndim) if v.ndim >= 3 else None for n, v in feeds.items()}]
    for orders in candidates:
        if all(tuple(_transpose(v, orders[n]).shape) == accepted[n] for n, v in feeds.items()):
            yield orders


def _find_orders(tf, fn, in_keys, out_names, feeds, expected):
    spec = fn.structured_input_signature[1]
    accepted = {n: tuple(spec[k].shape) for n, k in in_keys.items()}
    for in_orders in _input_orders(feeds, accepted):
        got = fn(**{in_keys[n]: tf.constant(np.ascontiguousarray(_transpose(v, in_orders[n])))
                    for n, v in feeds.items()})
        out_keys = _match(list(got), out_names, "outputs")
        out_orders = {n: _axis_order(np.asarray(got[out_keys[n]]), expected[n])
                      for n in out_names}
        if all(o is not False for o in out_orders.values()):
            return in_orders, out_keys, out_orders
    raise ValueError("the TensorFlow model onnx2tf wrote does not compute what the ONNX model "
                     "computes in onnxruntime, in any axis order of its inputs and outputs")


def save_in_nnp_layout(tf, model, onnx2tf_dir, output_dir):
    """Save onnx2tf's SavedModel from ``onnx2tf_dir`` into ``output_dir`` with a
    ``serving_default`` that keeps the ONNX ``model``'s input and output layouts."""
    loaded = tf.saved_model.load(onnx2tf_dir)
    fn = loaded.signatures["serving_default"]
    in_names = [i.name for i in model.graph.input]
    out_names = [o.name for o in model.graph.output]
    in_keys = _match(list(fn.structured_input_signature[1]), in_names, "inputs")
    feeds = _sample_inputs(model)
    expected = _onnxruntime_outputs(model, feeds)
    in_orders, out_keys, orders = _find_orders(tf, fn, in_keys, out_names, feeds, expected)
    specs = [tf.TensorSpec(feeds[n].shape, tf.as_dtype(feeds[n].dtype), name=_tf_name(n))
             for n in in_names]

    class NnpLayout(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = loaded

        @tf.function(input_signature=specs)
        def serve(self, *args):
            result = fn(**{in_keys[n]: a if in_orders[n] is None else
                           tf.transpose(a, in_orders[n]) for n, a in zip(in_names, args)})
            outputs = {}
            for n in out_names:
                value = result[out_keys[n]]
                outputs[_tf_name(n)] = value if orders[n] is None else \
                    tf.transpose(value, orders[n])
            return outputs

    module = NnpLayout()
    tf.saved_model.save(module, output_dir, signatures={"serving_default": module.serve})
    return output_dir
