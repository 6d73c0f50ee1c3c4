"""The package's imports point one way: no circle, engine layers only import
downwards, and no nnjax module imports another inside a function.

Found by walking each module's AST (nothing is imported), so a new circle
fails here with the modules and lines that make it.
"""
import ast
import pathlib
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "nnjax"

# The engine, lowest layer first (docs/ARCHITECTURE.md draws the same stack).
# A module may import modules of its own or a lower layer only.
ENGINE_LAYERS = [
    ["nnjax._specs", "nnjax._modes", "nnjax.random", "nnjax.dtypes", "nnjax.logger",
     "nnjax.config", "nnjax.context", "nnjax._buffer_needs", "nnjax._compile_cache",
     "nnjax._ir_context", "nnjax._host_programs"],
    ["nnjax._registry"],
    ["nnjax._plan"],
    ["nnjax._program"],
    ["nnjax._assemble", "nnjax._rounded_inputs"],
    ["nnjax._step_results"],
    ["nnjax._flush_inputs"],
    ["nnjax._queue"],
    ["nnjax._ndarray", "nnjax._direct_run"],
    ["nnjax._records"],
    ["nnjax._forward"],
    ["nnjax._function_backward"],
    ["nnjax._joined_step"],
    ["nnjax._backward"],
    ["nnjax._function"],
    ["nnjax._variable"],
    ["nnjax._apply"],
    ["nnjax.ops"],              # and every nnjax.ops.* module
    ["nnjax._grad"],
    ["nnjax.functions"],
    ["nnjax.function"],
    ["nnjax._indexing"],
    ["nnjax._operators"],
]


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_main_block(node):
    """``if __name__ == "__main__":`` (what runs as a script is not an import)."""
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name) and test.left.id == "__name__")


def _imports(name, path, modules):
    """[(imported nnjax module, line, inside a function)] of one module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            if _is_main_block(child):
                continue
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] in ("nnjax", "nnabla"):
                        found.append((_known(alias.name, modules), child.lineno, inner))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] not in ("nnjax", "nnabla"):
                    continue
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.append((sub if sub in modules else _known(target, modules),
                                  child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def _known(target, modules):
    target = target.replace("nnabla", "nnjax", 1) if target.startswith("nnabla") else target
    while target not in modules and "." in target:
        target = target.rpartition(".")[0]
    return target


def _graph():
    modules = _modules()
    return modules, {name: _imports(name, path, modules) for name, path in modules.items()}


def _layer_of(name):
    for rank, layer in enumerate(ENGINE_LAYERS):
        for member in layer:
            if name == member or (member == "nnjax.ops" and name.startswith("nnjax.ops.")):
                return rank
    return None


def test_no_import_inside_functions():
    _, edges = _graph()
    inner = [f"{name}:{line} imports {target}"
             for name, found in sorted(edges.items())
             for target, line, in_function in found if in_function]
    assert not inner, "nnjax modules imported inside functions:\n" + "\n".join(inner)


def test_no_import_circle():
    _, edges = _graph()
    graph = {name: sorted({t for t, _, _ in found if t != name and t != "nnjax"})
             for name, found in edges.items()}
    # the package itself is the top: whatever it imports sits below it
    state, stack, circles = {}, [], []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == "open":
                circles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_engine_imports_only_downwards():
    _, edges = _graph()
    wrong = []
    for name, found in sorted(edges.items()):
        rank = _layer_of(name)
        if rank is None:
            continue
        for target, line, _ in found:
            target_rank = _layer_of(target)
            if target == "nnjax" or target_rank is None or target_rank > rank:
                wrong.append(f"{name}:{line} (layer {rank}) imports {target} "
                             f"(layer {target_rank})")
    assert not wrong, "engine modules importing upwards:\n" + "\n".join(wrong)


def test_engine_modules_fit_in_one_sitting():
    long = [f"{name}: {len(path.read_text().splitlines())} lines"
            for name, path in sorted(_modules().items())
            if _layer_of(name) is not None and name != "nnjax._specs"   # a data table
            and len(path.read_text().splitlines()) > 450]
    assert not long, "engine modules over 450 lines:\n" + "\n".join(long)


def test_scanner_sees_a_planted_circle(tmp_path, monkeypatch):
    """The walk above finds circles and inner imports (checked on a tiny package)."""
    pkg = tmp_path / "nnjax"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    _, edges = _graph()
    assert ("nnjax.sub.b", 1, False) in edges["nnjax.a"]
    assert ("nnjax.a", 2, True) in edges["nnjax.sub.b"]
