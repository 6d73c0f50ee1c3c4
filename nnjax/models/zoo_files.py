"""Model files in the layout of NNabla's zoo, made from the PF definitions.

``write_zoo_nnp(model)`` saves a model's architecture with fresh random weights
as the ``.nnp`` NNabla's zoo would download (network name, input variable and
cut-point variables named as the zoo expects) into the models cache, so code
written for pretrained models (``ResNet18()``) runs without network access.
The weights are random: real ones come from the URL in ``model.nnp_url``.
"""
import os
from collections import OrderedDict

from .. import parameter as P
from .._variable import Variable
from ..utils import get_file_handle as fh
from ..utils.save import create_proto
from . import _weights


def write_zoo_nnp(model_class, path=None, batch_size=1, **model_args):
    """Write ``model_class``'s PF architecture with random weights as an ``.nnp``.

    Args:
        model_class: a zoo model class (``ResNet18``) or ``ResNet`` with ``model_args``.
        path: where to write (default: the cache path the model looks up first
            among writable places, ``$NNABLA_MODELS_DIR`` or ``~/nnabla_data/nnp_models``).
    Returns the path written.
    """
    model = model_class(pretrained=False, **model_args)
    if path is None:
        path = _weights.candidate_paths(model.nnp_rel_path)[0][1]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    part = f"{path}.writing{os.getpid()}.nnp"
    # the parameters are named from the current scope when saved: build and save in one
    with P.parameter_scope("", OrderedDict()):
        x = Variable((batch_size,) + model.input_shape)
        net = model._pf_network(x, "classifier", training=True, force_global_pooling=False,
                                check_global_pooling=True, stop=False)
        params = P.get_parameters(grad_only=False)
        names = {k: v for k, v in net.variables.items() if k not in params}
        proto = create_proto({"networks": [{"name": model._NETWORK, "batch_size": batch_size,
                                            "outputs": dict(net.outputs), "names": names}]})
        _name_functions_as_the_zoo(proto.network[0], model)
        try:
            fh.save_model_file(part, proto, params, extension=".nnp", parameter_format=".h5")
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.remove(part)
    return path


def _name_functions_as_the_zoo(network, model):
    """Name functions as the zoo's passes address them: a function writing a cut
    point takes the cut point's name (as in files made by Neural Network Console),
    dropouts take the names the zoo removes for inference."""
    wanted = {}  # function index -> name
    cut_names = set(model._key_variables().values())
    functions = list(network.function)
    for i, f in enumerate(functions):
        if f.output and f.output[0] in cut_names:
            wanted[i] = f.output[0]
    dropouts = [i for i, f in enumerate(functions) if f.type == "Dropout"]
    fmt = model._format_dict()
    for i, name in zip(dropouts, model._DROPOUTS):
        wanted[i] = name.format(**fmt)
    taken = set(wanted.values())
    used = set()
    for i, f in enumerate(functions):
        name = wanted.get(i, f.name)
        if i not in wanted and name in taken:
            name = _fresh(f"{f.name}_renamed", taken | used)
        f.name = name
        used.add(name)


def _fresh(base, taken):
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name
