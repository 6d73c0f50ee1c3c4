"""ONNX export: every mapped function type, written at each supported opset, passes
onnx.checker and computes in onnxruntime what nnjax computes."""
import numpy as np
import onnx
import pytest

import nnabla.functions as F
from nnabla.utils.converter.onnx import OnnxExporter, OnnxImporter, ExportError, SUPPORTED_OPSETS
from nnabla.utils.converter.onnx.functions import EXPORTERS, MIN_OPSET
from nnjax._registry import REGISTRY
from nnjax._specs import DECLARED

from onnx_check import build_case, run_onnx
from onnx_cases import CASES

pytest.importorskip("onnxruntime")

_built = {}


def _case(type_name):
    if type_name not in _built:
        build, inputs = CASES[type_name]
        _built[type_name] = build_case(build, inputs)
    return _built[type_name]


def test_tested_opsets_span_the_supported_ones():
    assert SUPPORTED_OPSETS[0] == 11 and SUPPORTED_OPSETS[-1] == 17


def test_mapping_table_is_keyed_by_registered_types():
    unknown = sorted(set(EXPORTERS) - set(DECLARED))
    assert not unknown
    unregistered = sorted(t for t in EXPORTERS if t not in REGISTRY)
    assert not unregistered


def test_every_mapping_has_a_case():
    assert sorted(set(EXPORTERS) - {k.split(":")[0] for k in CASES} - set(RANDOM)) == []


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("case", sorted(CASES))
def test_function_exports_and_matches(case, opset):
    type_name = case.split(":")[0]
    nnp, feeds, expected = _case(case)
    used = {f.type for f in nnp.protobuf.network[0].function}
    assert type_name in used or type_name == "Dropout" and "Dropout" in used
    if CASE_MIN_OPSET.get(case, MIN_OPSET.get(type_name, 0)) > opset:
        with pytest.raises(ExportError, match=f"{type_name} .* at opset {opset}: .*opset 1"):
            OnnxExporter(nnp, -1, -1, opset=opset).export_model_proto()
        return
    model = OnnxExporter(nnp, -1, -1, opset=opset).export_model_proto()
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    got = run_onnx(model, feeds)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=type_name)
    if opset == 13 and type_name not in IMPORT_GAPS:
        # ONNX -> NNP -> ONNX: the imported network still computes nnjax's numbers
        again = OnnxExporter(OnnxImporter(model).execute(), -1, -1, opset=13)
        for g, e in zip(run_onnx(again.export_model_proto(), feeds), expected):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=type_name)


# exported as a constant graph output, which an NNP network cannot compute
IMPORT_GAPS = {"Shape"}
# variants that need a newer opset than their type
CASE_MIN_OPSET = {"ScatterNd:add": 16}


# random sources: ONNX draws other numbers; the distribution is what must match
# (seeded, so that both samples are fixed: the bounds are about 4 standard errors)
RANDOM = {"Rand": (lambda: F.rand(-1.0, 3.0, (4000,), seed=3), 1.0, np.sqrt(16 / 12)),
          "Randn": (lambda: F.randn(2.0, 0.5, (4000,), seed=3), 2.0, 0.5),
          "Randint": (lambda: F.randint(0, 10, (4000,), seed=3), 4.5, np.sqrt(99 / 12))}


@pytest.mark.parametrize("type_name", sorted(RANDOM))
def test_random_sources_export_their_distribution(type_name):
    build, mean, std = RANDOM[type_name]
    nnp, feeds, expected = build_case(lambda x: build() + x * 0, [(1,)])
    model = OnnxExporter(nnp, -1, -1, opset=13).export_model_proto()
    onnx.checker.check_model(model, full_check=True)
    (got,) = run_onnx(model, feeds)
    for sample in (got, expected[0]):
        assert sample.shape == (4000,)
        assert abs(sample.mean() - mean) < 4 * std / np.sqrt(4000)
        assert abs(sample.std() - std) < 0.1 * std
    if type_name == "Randint":
        assert set(np.unique(got)) == set(range(10))


def test_unsupported_function_names_function_and_opset():
    nnp, _, _ = build_case(lambda x: F.batch_det(x), [(2, 3, 3)])
    with pytest.raises(ExportError, match=r"BatchDet .* opset 13: BatchDet has no ONNX "):
        OnnxExporter(nnp, -1, -1, opset="opset_13").export_model_proto()


def test_unsupported_opset_is_refused():
    nnp, _, _ = build_case(F.identity, [(2, 3)])
    with pytest.raises(ValueError, match="opset '7' is not supported"):
        OnnxExporter(nnp, -1, -1, opset="7")
