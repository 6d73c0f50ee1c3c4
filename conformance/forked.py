"""pytest runs forked from a server that imported jax, nnabla and pytest once.

A fresh interpreter spends about 3 s importing them before its first test;
over NNabla's 281 test files that is most of the small files' time. The
server (multiprocessing's forkserver) imports them once, without starting
any XLA backend (so it holds no threads), and forks one child per test file.
Each child is still a process of its own: a test's global state, compiled
programs and crashes stay in it.
"""
import atexit
import multiprocessing
import os
import sys
import threading


_context = None
_start_lock = threading.Lock()


def _server(env):
    """The forkserver context, started with ``env`` as its environment."""
    global _context
    if _context is None:
        os.environ.clear()
        os.environ.update(env)  # the server and its children see the run's environment
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(["conformance.preload"])
    return _context


def _pytest_child(root, args, out_path):
    """In the forked child: run pytest on ``args`` from ``root`` as
    ``python -m pytest`` would, output to ``out_path``, exit with its code."""
    os.setsid()  # its own process group, so a timeout kills what it started too
    sys.stdout.flush()
    sys.stderr.flush()
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    os.chdir(root)
    sys.path.insert(0, str(root))
    sys.argv = ["pytest", *args]
    code = 3
    try:
        import pytest
        code = int(pytest.main(list(args)))
    finally:
        atexit._run_exitfuncs()  # as an interpreter's exit would (multiprocessing's cleanup too)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def start(root, args, out_path, env):
    """Start pytest on ``args`` in a child of the server; return the process
    (its pid leads its process group)."""
    with _start_lock:
        process = _server(env).Process(target=_pytest_child,
                                       args=(str(root), list(args), str(out_path)),
                                       daemon=False)
        process.start()
    return process
