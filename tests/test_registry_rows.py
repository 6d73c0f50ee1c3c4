"""Every registered function type has a test row: some test calls its F function
(or names its type) in a test module of ``tests/``. A new lowering without a
test fails here, naming it."""
import pathlib
import re

from nnjax._registry import REGISTRY

TESTS = pathlib.Path(__file__).resolve().parent


def _test_sources():
    return "\n".join(p.read_text() for p in sorted(TESTS.glob("test_*.py"))
                     if p.name != pathlib.Path(__file__).name)


def test_every_registered_type_has_a_test_row():
    text = _test_sources()
    missing = []
    for type_name, spec in sorted(REGISTRY.items()):
        snake = spec.declared.snake_name
        called = re.search(rf"\bF\.{snake}\b|\bfunctions\.{snake}\b|[\"']{snake}[\"']", text)
        named = re.search(rf"[\"']{type_name}[\"']", text)
        if not (called or named):
            missing.append(f"{type_name} (F.{snake})")
    assert not missing, "registered types without a test row:\n" + "\n".join(missing)


def test_row_scan_reads_the_test_modules():
    text = _test_sources()
    assert "F.affine" in text and "def test_" in text
