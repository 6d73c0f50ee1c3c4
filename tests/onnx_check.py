"""Record a one-output nnjax graph as an NNP object and run its ONNX export in onnxruntime."""
import numpy as np

import nnabla as nn
from nnabla.utils.save import create_proto
from nnabla.utils.converter.nnabla.importer import Nnp


def build_case(build, inputs, seed=0):
    """(nnp, feeds {name: array}, expected outputs [array]) of ``build`` on ``inputs``."""
    rng = np.random.RandomState(seed)
    nn.clear_parameters()
    feeds, variables = {}, []
    for i, spec in enumerate(inputs):
        value = spec(rng) if callable(spec) else rng.randn(*spec).astype(np.float32)
        v = nn.Variable(value.shape)
        v.d = value
        feeds[f"x{i}"] = value
        variables.append(v)
    y = build(*variables)
    ys = list(y) if isinstance(y, (list, tuple)) else [y]
    for out in ys:
        out.forward()
    expected = [np.array(out.d) for out in ys]
    names = [f"y{i}" for i in range(len(ys))]
    proto = create_proto({
        "networks": [{"name": "net", "batch_size": 1,
                      "outputs": dict(zip(names, ys)),
                      "names": dict(zip(feeds, variables))}],
        "executors": [{"name": "runtime", "network": "net", "data": list(feeds),
                       "output": names}]},
        include_params=True, variable_batch_size=False)
    nn.clear_parameters()
    return Nnp(proto), feeds, expected


def run_onnx(model, feeds):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(None, {n: feeds[n] for n in names})
