"""The Markdown report of a conformance run."""
import collections
import os
import re

from .known import KNOWN_REASONS

#: The default test folders, in report order; TOP_LEVEL: the files directly in python/test.
TOP_LEVEL = "."
DEFAULT_GROUPS = ("function", "solver", TOP_LEVEL, "core", "utils", "experimental")
_PER_NAME = re.compile(r"\([A-Za-z_]\w*\)")     # "(abs_backward)": one reason for every function
TOP_REASONS_PER_FILE = 3
TOP_REASONS_PER_GROUP = 10
COUNTS = ("tests", "passed", "failed", "errors", "skipped")


def _group_order(groups, default):
    known = [g for g in default if g in groups]
    return known + sorted(g for g in groups if g not in known)


def _group_title(group, top_level):
    if group == top_level:
        return "Top level (`python/test/test_*.py`)"
    return f"`{group}/`"


def _cell(text):
    text = str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _reasons_cell(reasons, limit=TOP_REASONS_PER_FILE):
    return "<br>".join(f"`{_cell(r)}` ×{n}" for r, n in reasons[:limit])


def _pct(part, whole):
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def _totals(entries):
    totals = {k: sum(e.get(k, 0) for e in entries) for k in COUNTS}
    totals["seconds"] = round(sum(e.get("seconds", 0) for e in entries), 1)
    totals["timeouts"] = sum(e.get("status") == "timeout" for e in entries)
    return totals


def _row(entry):
    tests = entry["tests"]
    status = entry.get("status")
    if status == "timeout":
        tests = f"≥{tests} (timeout)"
    elif status in ("collection error", "crash"):
        tests = f"{tests} ({status})"
    name = f"`{entry['file']}`"
    if entry.get("snapshot"):  # the nnjax commit the file ran on, when runs were merged
        name += f" ({entry['snapshot']})"
    cells = [name, tests] + [entry[k] for k in COUNTS[1:]] + [
        entry["seconds"], _reasons_cell(entry.get("reasons", []))]
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _explained(entries):
    """The analysed reason of every file that still fails, errs or times out."""
    open_files = sorted(e["file"] for e in entries
                        if e.get("failed") or e.get("errors")
                        or e.get("status") in ("timeout", "crash", "collection error"))
    if not open_files:
        return []
    lines = ["## Why the remaining files fail", "",
             "| file | reason |", "|---|---|"]
    for f in open_files:
        lines.append(f"| `{f}` | {_cell(KNOWN_REASONS.get(f, 'not analysed yet: see the top reasons in its row'))} |")
    return lines + [""]


def render(results, all_files=None):
    """Markdown for ``results`` (the JSON structure); ``all_files`` ({group: [file]},
    all test files of the checkout's groups) lists the files not run yet."""
    runs = results.get("runs", [])
    by_group = collections.defaultdict(list)
    for entry in results["files"].values():
        by_group[entry["group"]].append(entry)
    groups = _group_order(by_group, DEFAULT_GROUPS)
    all_files = all_files or {}

    lines = [
        "# Conformance: NNabla's test suite on nnjax",
        "",
        "NNabla's own Python tests (`python/test` of an NNabla checkout) run against",
        "nnjax: `import nnabla` resolves to this repository's nnjax. Each test file runs",
        f"in its own pytest process (`-k \"{results.get('keywords', '')}\"`), forked from a",
        "server that imported jax, nnabla and pytest once (`--spawn`: a new interpreter), under a",
        "wall-clock limit; a file that runs past it is killed and listed as a timeout,",
        "with the counts it had reached. Nothing of NNabla's tests is changed.",
        "",
        "Re-run (from the repository root; `--merge` keeps the results of files not re-run):",
        "",
        "```",
        "python -m conformance /path/to/nnabla [SUBDIR_OR_FILE ...] [--timeout 120] "
        "[--jobs 2] [--merge]   # --report-only: re-write this file from the JSON",
        "```",
        "",
        f"- NNabla commit: `{results.get('commit') or 'unknown'}`",
        "- Runs (wall time; files run at once; per-file limit):",
    ]
    for r in runs:
        targets = r.get("targets", [])
        shown = " ".join(targets[:4]) + (f" ... ({len(targets)} targets)" if len(targets) > 4
                                          else "")
        lines.append(f"  - {r.get('date', '?')}: {r.get('files', '?')} files ({shown}) in "
                     f"{r.get('seconds', '?')} s, {r.get('jobs', 1)} job(s), timeout "
                     f"{r.get('timeout', '?'):g} s, {r.get('cores', '?')} CPU cores, "
                     f"Python {r.get('python', '?')}"
                     + (f"; {r['note']}" if r.get("note") else ""))
    lines += [
        "- Raw results: `conformance.json` next to this file.",
        "- Pass rate: passed / tests collected (skipped tests count in the total).",
        "",
        "## Summary",
        "",
        "| folder | files run | tests | passed | pass rate | of non-skipped | failed | errors "
        "| skipped | timeouts |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for g in groups:
        t = _totals(by_group[g])
        n_all = len(all_files.get(g, [])) or "?"
        lines.append(f"| {_group_title(g, TOP_LEVEL)} | {len(by_group[g])} of {n_all} | "
                     f"{t['tests']} | {t['passed']} | {_pct(t['passed'], t['tests'])} | "
                     f"{_pct(t['passed'], t['tests'] - t['skipped'])} | "
                     f"{t['failed']} | {t['errors']} | {t['skipped']} | {t['timeouts']} |")
    lines += ["", "Skipped tests are the ones NNabla's tests skip themselves (cuDNN-only, "
              "ONNX-only and CPU-unimplemented cases); \"of non-skipped\" leaves them out.", ""]
    lines += _explained(results["files"].values())
    for g in groups:
        entries = sorted(by_group[g], key=lambda e: e["file"])
        t = _totals(entries)
        lines += ["", f"## {_group_title(g, TOP_LEVEL)}", "",
                  "| file | tests | passed | failed | errors | skipped | seconds | top reasons |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [_row(e) for e in entries]
        lines += ["", f"**Total** ({len(entries)} files): {t['tests']} tests, {t['passed']} "
                  f"passed ({_pct(t['passed'], t['tests'])}), {t['failed']} failed, "
                  f"{t['errors']} errors, {t['skipped']} skipped, {t['timeouts']} timeouts; "
                  f"{t['seconds']} s."]
        reasons = collections.Counter()
        for e in entries:
            for r, n in e.get("reasons", []):
                reasons[_PER_NAME.sub("(…)", r)] += n
        if reasons:
            lines += ["", "Most common reasons (summed over each file's top 5; a name in "
                      "parentheses shown as (…)):", ""]
            lines += [f"- ×{n} `{_cell(r)}`" for r, n in reasons.most_common(TOP_REASONS_PER_GROUP)]
        ran = {e["file"] for e in entries}
        missing = [f for f in all_files.get(g, []) if f not in ran]
        if missing:
            names = ", ".join(f"`{os.path.basename(f)}`" for f in missing)
            lines += ["", f"Not run yet ({len(missing)} files): {names}"]
    return "\n".join(lines) + "\n"
