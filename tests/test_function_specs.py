"""The spec table (nnjax._specs.DECLARED) against the rest of nnjax.

These are facts that hold today and must stay true: the table names the same
types as the lowering registry, agrees with the status list's categories and
with the NNP format's argument fields, and its function names exist in
nnabla.functions.
"""
import ast
import inspect

import pytest
from google.protobuf.descriptor import FieldDescriptor as _FD

import nnjax  # noqa: F401  (registers the lowerings)
import nnjax.functions as F
from nnjax import _specs
from nnjax._registry import REGISTRY
from nnjax._specs import COMPUTED, DECLARED, REQUIRED
from nnjax.utils import nnabla_pb2

# Registered types that are nnjax's own, not NNabla's (none today).
NNJAX_INTERNAL_TYPES = frozenset()

# NNabla function types without a public nnabla.functions function: {type: reason}.
# (None today: every type, BcAdd2 included, has its F function.)
NO_PUBLIC_F = {}

# Types whose NNP param message does not list exactly the declared arguments:
# {type: reason}. (None today: NNabla's proto agrees with its function list.)
NNP_EXCEPTIONS = {}

# How NNabla's argument types are stored in the NNP format:
# declared type -> (field type, message type name, repeated).
PROTO_TYPE = {
    "int64": (_FD.TYPE_INT64, None, False),
    "float": (_FD.TYPE_FLOAT, None, False),
    "double": (_FD.TYPE_DOUBLE, None, False),
    "bool": (_FD.TYPE_BOOL, None, False),
    "string": (_FD.TYPE_STRING, None, False),
    "Shape": (_FD.TYPE_MESSAGE, "Shape", False),
    "Communicator": (_FD.TYPE_MESSAGE, "Communicator", False),
    "repeated int64": (_FD.TYPE_INT64, None, True),
    "repeated float": (_FD.TYPE_FLOAT, None, True),
}


def reference_categories():
    """{type: category} from the status list. When _status.FUNCTION_TYPES is
    replaced by the table, drop this test's comparison (DECLARED becomes the source)."""
    from nnjax._status import FUNCTION_TYPES
    return {t: cat for cat, types in FUNCTION_TYPES.items() for t in types}


def _param_message(type_name):
    field = nnabla_pb2.FUNCTION_PARAMS.get(type_name)
    if field is None:
        return None
    return nnabla_pb2.Function.DESCRIPTOR.fields_by_name[field].message_type


def _is_repeated(field):
    flag = getattr(field, "is_repeated", None)
    return flag if flag is not None else field.label == field.LABEL_REPEATED


def test_declares_nnablas_228_types_and_the_registry_has_the_same():
    assert len(DECLARED) == 228
    assert len(set(d.snake_name for d in DECLARED.values())) == 228
    assert set(REGISTRY) - NNJAX_INTERNAL_TYPES == set(DECLARED)


def test_categories_and_order_match_the_status_list():
    ref = reference_categories()
    assert list(DECLARED) == list(ref)
    assert {t: d.category for t, d in DECLARED.items()} == ref
    assert _specs.CATEGORIES == tuple(dict.fromkeys(ref.values()))


@pytest.mark.parametrize("type_name", list(DECLARED))
def test_args_match_the_nnp_param_message(type_name):
    decl = DECLARED[type_name]
    message = _param_message(type_name)
    if type_name in NNP_EXCEPTIONS:
        pytest.skip(NNP_EXCEPTIONS[type_name])
    if message is None:
        assert decl.args == (), f"{type_name} has arguments but no NNP param message"
        return
    fields = list(message.fields)
    assert [f.name for f in fields] == list(decl.arg_names)
    for f, a in zip(fields, decl.args):
        expected = PROTO_TYPE[a.type]
        got = (f.type, f.message_type.name if f.message_type else None, _is_repeated(f))
        assert got == expected, f"{type_name}.{a.name}: {a.type} stored as {got}"


def test_snake_names_are_public_functions():
    missing = {t: d.snake_name for t, d in DECLARED.items()
               if t not in NO_PUBLIC_F and not callable(getattr(F, d.snake_name, None))}
    assert missing == {}
    listed_but_present = [t for t in NO_PUBLIC_F if hasattr(F, DECLARED[t].snake_name)]
    assert listed_but_present == []


def test_defaults_are_well_formed():
    for t, decl in DECLARED.items():
        names = set(decl.input_names) | set(decl.arg_names)
        for a in decl.args:
            assert a.type in PROTO_TYPE, (t, a.name, a.type)
            if a.default is COMPUTED:
                # an expression of the inputs and the other arguments
                tree = ast.parse(a.default_expr, mode="eval")
                used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
                assert used - names <= {"len", "range", "tuple"}, (t, a.name, a.default_expr)
                assert used & names, (t, a.name, a.default_expr)
            else:
                assert a.default_expr == "", (t, a.name)
            if a.default not in (REQUIRED, COMPUTED, None):
                if a.type in ("bool",):
                    assert isinstance(a.default, bool), (t, a.name)
                elif a.type == "string":
                    assert isinstance(a.default, str), (t, a.name)
                elif a.type in ("int64", "float", "double"):
                    assert isinstance(a.default, (int, float)), (t, a.name)
                else:
                    assert isinstance(a.default, (tuple, list)), (t, a.name)
    assert DECLARED["Affine"].arg("base_axis").default == 1
    assert DECLARED["Pad"].arg("mode").default == "constant"
    assert DECLARED["Interpolate"].arg("output_size").required
    assert DECLARED["Convolution"].arg("pad").default is COMPUTED
    assert [i.name for i in DECLARED["Affine"].inputs if i.optional] == ["bias"]
    assert DECLARED["Concatenate"].inputs[0].variadic
    assert DECLARED["Split"].outputs[0].variadic


def test_lowerings_take_the_declared_args_or_imply_nnablas_default():
    """Each lowering accepts every declared argument as a keyword (none is left to
    ``FunctionSpec.implied_args``, NNabla's defaults the lowering would only imply)."""
    not_taken = {}
    for t, decl in DECLARED.items():
        params = inspect.signature(REGISTRY[t].lower).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            continue
        missing = {n for n in decl.arg_names if n not in params}
        if missing:
            not_taken[t] = missing
    assert not_taken == {}
    assert REGISTRY["TopKData"].implied_args() == {}
    assert REGISTRY["FusedConvolution"].implied_args() == {}
    assert REGISTRY["Affine"].implied_args() == {}

def test_recorded_args_are_completed_from_the_declaration():
    """A node's info.args hold every NNabla argument: the wrapper's, plus NNabla's
    defaults for those it leaves out (F.mul2 passes no ``inplace``)."""
    import numpy as np
    import nnabla as nn
    x = nn.Variable.from_numpy_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    y = F.mul2(x, x)
    assert y.parent.info.args == {"inplace": False}
    t = F.top_k_data(x, 2)
    assert list(t.parent.info.args) == list(DECLARED["TopKData"].arg_names)
    assert t.parent.info.args["largest"] is True and t.parent.info.args["with_index"] is False
    t.forward()
    np.testing.assert_allclose(t.d, [[2, 1], [5, 4]])   # the k largest, in order


def test_an_argument_nnabla_does_not_have_is_a_type_error():
    import numpy as np
    import nnabla as nn
    from nnjax._apply import apply_function
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
    w = nn.Variable.from_numpy_array(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match=r"Affine: unknown argument\(s\) \['base_axs'\]"):
        apply_function("Affine", [x, w], {"base_axs": 1})
    with pytest.raises(TypeError, match="Slice: argument 'start' is required"):
        apply_function("Slice", [x], {"stop": [2, 3], "step": [1, 1]})


# F wrappers whose default differs from the type's declaration because NNabla's own
# hand-written nnabla.functions wrapper has that default too (or computes it).
_F_DEFAULTS_AS_NNABLAS_F = {
    ("BatchNormalization", "axes"), ("FusedBatchNormalization", "axes"),
    ("SyncBatchNormalization", "axes"), ("GroupNormalization", "num_groups"),
    ("GroupNormalization", "batch_axis"), ("InstanceNormalization", "batch_axis"),
    ("LayerNormalization", "batch_axis"), ("NormNormalization", "p"), ("Norm", "p"),
    ("TensorNormalization", "axes"), ("ScatterAdd", "axis"), ("Interpolate", "output_size"),
    ("Interpolate", "mode"), ("Interpolate", "align_corners"), ("QuantizeLinear", "dtype"),
    ("Einsum", "equation"),
}


def test_f_wrapper_defaults_are_nnablas():
    """Every default an F wrapper gives a declared argument is NNabla's literal default
    (compared by value, so 1 and 1.0 agree), apart from the listed wrappers."""
    wrong = []
    for t, decl in DECLARED.items():
        fn = getattr(F, decl.snake_name, None)
        if fn is None:
            continue
        for name, p in inspect.signature(fn).parameters.items():
            if name not in decl.arg_names or (t, name) in _F_DEFAULTS_AS_NNABLAS_F:
                continue
            default = decl.arg(name).default
            if default is COMPUTED:
                continue
            given = p.default if p.default is not p.empty else REQUIRED
            same = given is default if REQUIRED in (given, default) else (
                list(given) == list(default) if isinstance(default, (list, tuple))
                and isinstance(given, (list, tuple)) else given == default)
            if not same:
                wrong.append(f"F.{decl.snake_name}({name}={given!r}), NNabla {default!r}")
    assert not wrong, "\n".join(wrong)
