"""Conformance runs: NNabla's own test suite run against nnjax.

    python -m conformance /path/to/nnabla [SUBDIR_OR_FILE ...] [--timeout S]
                          [--jobs N] [--merge] [--spawn] [--out docs/CONFORMANCE.md]

Each test file runs in its own pytest process (``import nnabla`` resolves to
the nnjax of this checkout), forked from a server that imported jax, nnabla and
pytest once (``--spawn``: a new interpreter per file), under a wall-clock limit;
the per-file counts and the most common failure messages go to a Markdown
report and a JSON file next to it (``conformance.json``). See ``runner.py``,
``forked.py`` and ``report.py``.
"""
