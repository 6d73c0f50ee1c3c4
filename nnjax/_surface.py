"""NNabla's public module surface, checked against nnjax.

``python -m nnjax._surface /path/to/nnabla [--markdown docs/STATUS.md] [--json PATH]``

Reads an NNabla checkout (``python/src/nnabla`` and ``python/src/nnabla_ext``):
every ``.py``/``.pyx`` module (a package's ``__init__``), and for each module its
public names: ``__all__`` when it is a literal list, else the top-level ``def``,
``class`` (``cdef class``/``cpdef`` in ``.pyx``) and assignments whose name does not
start with ``_``; a package's ``__init__`` also exports what it imports with
``from ... import``. Template modules (``*.py.tmpl``, ``*.pyx.tmpl``) are generated
by NNabla's build from its function and solver tables; they are listed without
names. Then it imports the same module path through nnjax (``import nnabla.x``
is ``nnjax.x``) and lists the names missing there.

``--markdown PATH`` replaces (or appends) the section titled ``SECTION`` in PATH,
keeping everything before it; ``python -m nnjax.functions --markdown`` keeps this
section when it rewrites the file. Nothing of NNabla's sources is copied: only the
module paths and names are read.
"""
import argparse
import ast
import importlib
import json
import os
import pathlib
import re
import sys

SECTION = "## Module surface (NNabla's public modules and names)"

# Names that need not exist, with the reason (module -> {name: reason}); "*" is any name.
_CLI_HELPER = ("a helper inside NNabla's implementation of this `nnabla_cli` sub-command; "
               "nnjax's sub-command works without it (tests/test_cli*.py)")
REASONS = {
    "nnabla._init": {"*": "Cython bootstrap of NNabla's C++ library; nnjax has no C++ core"},
    "nnabla._indexing": {"*": "private helpers of NNabla's Cython `__getitem__`/`__setitem__`; "
                              "nnjax's indexing is `nnjax._indexing` (NNabla's "
                              "`test_indexing.py` passes)"},
    "nnabla._variable": {"CommunicatorBackwardCallback": (
        "the C++ callback object `comm.all_reduce_callback` returns to `backward`; nnjax's "
        "callback is a Python object and the all-reduce runs inside the compiled step")},
    "nnabla.grad": {"GradEndFunction": (
        "the PythonFunction NNabla's Python `Grad` puts at the end of the graph it builds; "
        "nnjax's `Grad` differentiates the graph's lowering with JAX and needs no end node")},
    "nnabla.utils.load": {"link_components": (
        "an internal step of NNabla's `load()` (joining networks, datasets, optimizers and "
        "monitors of the parsed file); nnjax's `load()` returns the same components")},
    "nnabla.utils.get_file_handle": {n: (
        "NNabla's internal dispatch of `load`/`save` (a context object and per-extension "
        "handler lists); nnjax reads and writes the same files through `read_files` and "
        "`save_model_file`, behind the same `load`/`save`") for n in (
        "FileHandlerContext", "get_decorated_file_loader", "get_default_file_savers",
        "get_initial_file_loader", "get_parameter_file_loader", "get_parameter_file_savers",
        "load_files", "load_solve_state_from_h5", "save_files")},
    "nnabla.utils.cli.compare_with_cpu": {"add_result": _CLI_HELPER, "compare_optimizer": _CLI_HELPER},
    "nnabla.utils.cli.create_image_classification_dataset": {"convert_image": _CLI_HELPER},
    "nnabla.utils.cli.create_object_detection_dataset": {
        n: _CLI_HELPER for n in ("ObjectRect", "convert_image", "get_anchors", "load_label")},
    "nnabla.utils.cli.func_info": {
        n: _CLI_HELPER for n in ("FuncInfo", "NnablaHandler", "NncrHandler", "OnnxHandler")},
    "nnabla.utils.cli.optimize_model": {"optimize_nnp_model_command": _CLI_HELPER},
    "nnabla.utils.cli.plot": {"add_plot_any_command": _CLI_HELPER, "plot_any_command": _CLI_HELPER},
    "nnabla.utils.cli.profile": {n: _CLI_HELPER for n in ("add_result", "profile",
                                                          "profile_optimizer")},
    "nnabla.utils.cli.train": {"nodeTimeCollector": _CLI_HELPER},
}

# Modules whose missing names are known and not done yet, with why (shown in the table;
# the names still count as missing).
PENDING = {
    "nnabla.autolog": "needs the `mlflow` package (on PyPI, heavy dependency tree); not yet",
    "nnabla.lms": "swaps arrays between GPU and host memory around each function; XLA "
                  "places memory itself and offers no such hook; not yet",
    "nnabla._array": "wrapper of NNabla's C++ `Array` (one device copy of a SyncedArray); "
                     "nnjax's NdArray has no such layer",
    "nnabla._arithmetic_ops": "Cython helpers of the operators; nnjax's are in `nnjax._operators`",
    "nnabla._dropout_workaround": "Cython helper for dropout's mask; nothing to expose",
    "nnabla.utils.data_source_loader": "load_audio needs `audio_utils`, which imports this "
                                       "module (an import circle); not yet",
    "nnabla.utils.image_utils.backend_events.dicom_backend": "needs `pydicom`; not yet",
    "nnabla.utils.factorization": "CP decomposition (ALS) for network compression; not yet",
    "nnabla.utils.factorization.cpd": "CP decomposition (ALS) for network compression; not yet",
    "nnabla.utils.converter": "converter configuration helpers (operator lists as YAML, ONNX "
                              "opsets): the graph-converter/conversion issue",
    "nnabla.utils.cli.uploader": "the upload to Neural Network Console (its web API) is not "
                                 "written yet; `create_tar` works",
    "nnabla.utils.cli.optimize_model": "`.pb` (TensorFlow) optimization is not written yet",
}
PENDING_PREFIXES = {
    "nnabla.utils.converter.": "converter internals: the graph-converter/conversion issue",
    "nnabla.models.": "model-zoo modules: the model-zoo issue",
    "nnabla.backward_function.": "NNabla's hand-written double-backward helpers; nnjax "
                                 "differentiates each type's lowering with JAX instead",
}


def pending_reason(module):
    if module in PENDING:
        return PENDING[module]
    for prefix, reason in PENDING_PREFIXES.items():
        if module.startswith(prefix):
            return reason
    return None


_PYX_DEF = re.compile(r"^(?:cpdef|def)\s+(?:[A-Za-z_][\w\[\], ]*\s+)?([A-Za-z_]\w*)\s*\(")
_PYX_CLASS = re.compile(r"^(?:cdef\s+|cpdef\s+)?class\s+([A-Za-z_]\w*)")
_PYX_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)")


def _module_name(root, path):
    rel = path.relative_to(root)
    parts = list(rel.parts)
    last = parts[-1]
    for suffix in (".py.tmpl", ".pyx.tmpl", ".py", ".pyx"):
        if last.endswith(suffix):
            parts[-1] = last[:-len(suffix)]
            break
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _literal_all(tree):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                return [str(n) for n in ast.literal_eval(node.value)]
            except ValueError:
                return None
    return None


def _python_names(source, is_package):
    tree = ast.parse(source)
    names = _literal_all(tree)
    if names is not None:
        return sorted(set(names))
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
        elif isinstance(node, ast.Assign):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.add(node.target.id)
        elif is_package and isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found.update(a.asname or a.name for a in node.names if a.name != "*")
    return sorted(n for n in found if not n.startswith("_"))


def _pyx_names(source):
    found = set()
    for line in source.splitlines():
        for pattern in (_PYX_DEF, _PYX_CLASS, _PYX_ASSIGN):
            m = pattern.match(line)
            if m:
                found.add(m.group(1))
    return sorted(n for n in found if not n.startswith("_") and n not in ("cdef", "ctypedef"))


def nnabla_modules(checkout):
    """{module name: {"names": [...], "source": relative path, "generated": bool}}."""
    src = pathlib.Path(checkout) / "python" / "src"
    if not (src / "nnabla").is_dir():
        raise FileNotFoundError(f"_surface: no python/src/nnabla under {checkout!r} "
                                "(give the root of an NNabla checkout)")
    modules = {}
    for top in ("nnabla", "nnabla_ext"):
        for path in sorted((src / top).rglob("*")):
            name = path.name
            if not path.is_file() or "test" in path.relative_to(src).parts[:-1]:
                continue
            generated = name.endswith((".py.tmpl", ".pyx.tmpl"))
            if not (generated or name.endswith((".py", ".pyx"))):
                continue
            if name.startswith("_version") or name == "__main__.py":
                continue
            module = _module_name(src, path)
            text = path.read_text(encoding="utf-8", errors="replace")
            if generated:
                names = []
            elif name.endswith(".pyx"):
                names = _pyx_names(text)
            else:
                try:
                    names = _python_names(text, name == "__init__.py")
                except SyntaxError as e:
                    raise SyntaxError(f"_surface: cannot parse {path}: {e}") from None
            entry = modules.setdefault(module, {"names": [], "source": str(path.relative_to(src)),
                                                "generated": generated})
            entry["names"] = sorted(set(entry["names"]) | set(names))
    return modules


def check(modules):
    """Rows (module, expected, present, missing, error) against the installed nnjax."""
    rows = []
    for module in sorted(modules):
        info = modules[module]
        expected = info["names"]
        reasons = REASONS.get(module, {})
        try:
            mod = importlib.import_module(module)
            error = None
        except Exception as e:  # any import failure is reported, not raised
            mod, error = None, f"{type(e).__name__}: {e}".splitlines()[0][:160]
        absent = [n for n in expected if mod is None or not hasattr(mod, n)]
        excused = [(n, reasons[n]) for n in absent if n in reasons and "*" not in reasons]
        missing = [n for n in absent if n not in reasons and "*" not in reasons]
        rows.append({"module": module, "expected": len(expected),
                     "present": len(expected) - len(absent), "missing": missing,
                     "excused": excused,
                     "import_error": error if "*" not in reasons else None,
                     "generated": info["generated"],
                     "reason": reasons.get("*")})
    return rows


def format_markdown(rows):
    total = sum(r["expected"] for r in rows)
    present = sum(r["present"] for r in rows)
    importable = sum(1 for r in rows if r["import_error"] is None)
    missing_total = sum(len(r["missing"]) for r in rows if not pending_reason(r["module"]))
    lines = [SECTION, "",
             "Generated by `python -m nnjax._surface /path/to/nnabla --markdown docs/STATUS.md` "
             "from an NNabla checkout: each public module of NNabla's Python package, the "
             "public names its source defines (`__all__`, else top-level `def`/`class`/"
             "assignments, and a package's `from ... import`), and which of them the same "
             "module path of nnjax lacks.", "",
             f"- {len(rows)} modules, {importable} importable on nnjax; "
             f"{present} of {total} names present, {missing_total} missing without a "
             "reason (a module that does not import counts all its names).", "",
             "| module | names expected | present | missing |",
             "|---|---|---|---|"]
    for r in rows:
        if r["reason"]:
            missing = f"(not needed: {r['reason']})"
        elif r["import_error"]:
            missing = f"**module does not import** ({r['import_error']})"
            if r["missing"]:
                missing += ": " + ", ".join(f"`{n}`" for n in r["missing"])
        elif r["generated"]:
            missing = "(generated by NNabla's build from its function/solver tables)"
        else:
            missing = ", ".join(f"`{n}`" for n in r["missing"])
        pending = pending_reason(r["module"]) if (r["missing"] or r["import_error"]) else None
        if pending and not r["reason"]:
            missing += f" (reason: {pending})"
        by_reason = {}
        for name, reason in r.get("excused", ()):
            by_reason.setdefault(reason, []).append(f"`{name}`")
        for reason, names in by_reason.items():
            missing += ("; " if missing else "") + f"{', '.join(names)} (not needed: {reason})"
        missing = missing.replace("|", "\\|")
        lines.append(f"| `{r['module']}` | {r['expected']} | {r['present']} | {missing} |")
    return "\n".join(lines) + "\n"


def replace_section(path, section_text):
    """Write ``section_text`` as the last section of ``path`` (atomically)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    head = text.split(SECTION, 1)[0].rstrip("\n")
    write_text(path, (head + "\n\n" if head else "") + section_text)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def kept_section(path):
    """The surface section of an existing file ('' if none), for regenerators."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return ""
    if SECTION not in text:
        return ""
    return SECTION + text.split(SECTION, 1)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnjax._surface",
                                     description="Check nnjax against NNabla's public modules.")
    parser.add_argument("checkout", help="root of an NNabla source checkout")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write the table as the module-surface section of PATH")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    args = parser.parse_args(argv)
    try:
        modules = nnabla_modules(args.checkout)
    except (FileNotFoundError, SyntaxError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    rows = check(modules)
    text = format_markdown(rows)
    if args.markdown:
        replace_section(args.markdown, text)
    if args.json:
        write_text(args.json, json.dumps(rows, indent=1))
    if not args.markdown and not args.json:
        sys.stdout.write(text)
    missing = sum(len(r["missing"]) for r in rows)
    broken = sum(1 for r in rows if r["import_error"])
    print(f"{len(rows)} modules, {broken} not importable, {missing} names missing",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
