"""Run NNabla's test files one pytest process each and collect the results."""
import argparse
import atexit
import collections
import concurrent.futures
import datetime
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

from . import forked, report
from .report import DEFAULT_GROUPS, TOP_LEVEL

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]
KEYWORDS = "not cuda and not cudnn"
MAX_REASONS = 5

_EXC_LINE = re.compile(r"^E\s+((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Warning|"
                       r"Interrupt|Failed|Skipped)\b.*)$")
_NUMPY_DETAIL = ("Mismatched", "(shapes", "x and y", "Max ", "ACTUAL", "DESIRED", "First ")
_PROGRESS = re.compile(r"^([.FEsxX]+)\s*(\[\s*\d+%\])?\s*$")


# ---------------------------------------------------------------- discovery
def test_root(checkout):
    return pathlib.Path(checkout).resolve() / "python" / "test"


def group_of(relpath):
    """The report group of a test file path relative to the test root."""
    parts = pathlib.PurePosixPath(relpath).parts
    return parts[0] if len(parts) > 1 else TOP_LEVEL


def files_of_group(root, group):
    """The test files of a group, as paths relative to the test root, sorted."""
    if group == TOP_LEVEL:
        found = root.glob("test_*.py")
    else:
        found = (root / group).rglob("test_*.py")
    return sorted(p.relative_to(root).as_posix() for p in found if p.is_file())


def select_files(root, targets):
    """Test files named by ``targets`` (groups, subfolders or files), in order."""
    chosen = []
    for target in targets or DEFAULT_GROUPS:
        target = target.rstrip("/") or TOP_LEVEL
        path = root / target
        if target == TOP_LEVEL:
            chosen += files_of_group(root, TOP_LEVEL)
        elif path.is_file():
            chosen.append(path.resolve().relative_to(root).as_posix())
        elif path.is_dir():
            chosen += sorted(p.relative_to(root).as_posix() for p in path.rglob("test_*.py"))
        else:
            raise SystemExit(f"conformance: no test file or folder {target!r} under {root}")
    seen = set()
    return [f for f in chosen if not (f in seen or seen.add(f))]


# ---------------------------------------------------------------- one file
def reason_of(message, text):
    """One line saying why a test failed: the exception's first line."""
    message = (message or "").strip()
    lines = [ln.rstrip() for ln in (text or "").splitlines()]
    generic = (not message or message == "collection failure"
               or message.startswith("failed on setup") or message.startswith("failed on teardown"))
    if generic:
        excs = [m.group(1) for m in map(_EXC_LINE.match, lines) if m]
        if excs:
            message = excs[-1]
        elif message.startswith("failed on"):
            message = message.partition(" with ")[2].strip('"') or message
        else:
            e_lines = [ln[1:].strip() for ln in lines if ln.startswith("E ")]
            message = e_lines[-1] if e_lines else (message or "unknown")
    first, *rest = [ln.strip() for ln in message.splitlines() if ln.strip()] or ["unknown"]
    if first.endswith(":") and rest:          # "AssertionError: " then the real text
        first = f"{first} {rest.pop(0)}"
    if "Not equal to tolerance" in first and rest and not rest[0].startswith(_NUMPY_DETAIL):
        first = f"{first}: {rest[0]}"         # numpy's message, then the test's err_msg
    first = re.sub(r"0x[0-9a-fA-F]{6,}", "0x…", first)
    return first if len(first) <= 160 else first[:157] + "..."


def parse_junit(path):
    """Counts and failure reasons from a pytest JUnit XML report."""
    counts = dict(tests=0, passed=0, failed=0, errors=0, skipped=0)
    reasons = collections.Counter()
    collection_error = False
    for case in ET.parse(path).getroot().iter("testcase"):
        counts["tests"] += 1
        failure, error = case.find("failure"), case.find("error")
        if failure is not None or error is not None:
            bad = failure if failure is not None else error
            kind = "failed" if failure is not None else "errors"
            counts[kind] += 1
            if bad.get("message") == "collection failure":
                collection_error = True
            reasons[reason_of(bad.get("message"), bad.text)] += 1
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, reasons, collection_error


def _partial_counts(stdout_text):
    """Counts from pytest's -q progress characters (for a run that was killed)."""
    counts = dict(tests=0, passed=0, failed=0, errors=0, skipped=0)
    for line in stdout_text.splitlines():
        m = _PROGRESS.match(line.strip())
        if not m:
            continue
        for ch in m.group(1):
            counts["tests"] += 1
            key = {".": "passed", "F": "failed", "E": "errors", "s": "skipped",
                   "x": "skipped", "X": "passed"}[ch]
            counts[key] += 1
    return counts


def _env():
    env = dict(os.environ)
    env.pop("NNJAX_NO_ALIAS", None)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


# process groups of the pytest runs under way: ended if the runner itself is stopped
_running = set()


def end_running(signum=None, frame=None):
    """Kill every pytest run still under way (on SIGTERM/SIGINT and at exit)."""
    for pid in list(_running):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _running.clear()
    if signum is not None:
        raise SystemExit(128 + signum)


def _wait_spawned(root, relpath, args, out_path, timeout):
    """Run pytest in a new interpreter; return ``(returncode, timed_out)``."""
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", relpath, *args], cwd=root,
                                env=_env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        _running.add(proc.pid)
        try:
            proc.wait(timeout=timeout)
            return proc.returncode, False
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait()
            return proc.returncode, True
        finally:
            _running.discard(proc.pid)


def _wait_forked(root, relpath, args, out_path, timeout):
    """Run pytest in a child of the fork server; return ``(returncode, timed_out)``."""
    process = forked.start(root, [relpath, *args], out_path, _env())
    _running.add(process.pid)
    try:
        process.join(timeout)
        timed_out = process.exitcode is None
        if timed_out:
            _kill_group(process.pid)
            process.join()
        return process.exitcode, timed_out
    finally:
        _running.discard(process.pid)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_file(root, relpath, timeout, fork=True):
    """Run one test file (in a child forked from the server that imported nnabla
    once, or with ``fork=False`` in a new interpreter); return its result entry."""
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        junit = pathlib.Path(tmp) / "report.xml"
        out_path = pathlib.Path(tmp) / "out.txt"
        args = ["-p", "no:cacheprovider", "-q", "-k", KEYWORDS, f"--junit-xml={junit}"]
        start = time.monotonic()
        wait = _wait_forked if fork else _wait_spawned
        returncode, timed_out = wait(root, relpath, args, out_path, timeout)
        seconds = round(time.monotonic() - start, 1)
        output = out_path.read_text(errors="replace")
        entry = {"file": relpath, "group": group_of(relpath), "seconds": seconds,
                 "returncode": returncode,
                 "date": datetime.datetime.now().isoformat(timespec="seconds")}
        if timed_out:
            entry.update(_partial_counts(output), status="timeout", timeout=timeout,
                         reasons=[[f"timeout after {timeout:g} s", 1]])
            return entry
        if junit.exists():
            try:
                counts, reasons, collection_error = parse_junit(junit)
            except ET.ParseError as exc:
                counts, reasons, collection_error = None, None, False
                parse_problem = str(exc)
        else:
            counts = None
            parse_problem = "no JUnit report written"
        if counts is None:
            tail = [ln for ln in output.splitlines() if ln.strip()][-3:]
            entry.update(tests=0, passed=0, failed=0, errors=1, skipped=0, status="crash",
                         reasons=[[f"pytest exited {returncode}: {parse_problem}; "
                                   + " | ".join(tail)[:200], 1]])
            return entry
        if collection_error:
            status = "collection error"
        elif counts["failed"] or counts["errors"]:
            status = "failures"
        elif returncode not in (0, 5):
            status = "crash"
        else:
            status = "ok"
        entry.update(counts, status=status,
                     reasons=[[r, n] for r, n in reasons.most_common(MAX_REASONS)])
        return entry


# ---------------------------------------------------------------- whole run
def _commit(checkout):
    try:
        return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _nnjax_snapshot():
    """The short commit of the nnjax tree under test (``+`` when it has changes
    outside docs/, where the runner writes its own results)."""
    try:
        head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain",
                                "--untracked-files=no", "--", ".", ":(exclude)docs"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def load_results(json_path):
    try:
        with open(json_path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def longest_first(files, known):
    """``files`` ordered by their last recorded seconds, longest (or never run)
    first, so that a long file does not start last and leave the other jobs idle."""
    seconds = {f: e.get("seconds") for f, e in ((known or {}).get("files") or {}).items()}
    return sorted(files, key=lambda f: -(seconds.get(f) or float("inf")))


def run(checkout, targets=(), timeout=300.0, jobs=1, out="docs/CONFORMANCE.md", merge=False,
        log=sys.stderr, fork=True):
    """Run the selected test files and write the report; return the results dict."""
    root = test_root(checkout)
    if not root.is_dir():
        raise SystemExit(f"conformance: {root} is not a folder (expected <checkout>/python/test)")
    files = select_files(root, targets)
    out = pathlib.Path(out)
    json_path = out.with_name("conformance.json")
    recorded = load_results(json_path)
    previous = recorded if merge else None
    results = {
        "checkout": str(pathlib.Path(checkout).resolve()),
        "commit": _commit(checkout),
        "keywords": KEYWORDS,
        "files": dict(previous["files"]) if previous else {},
        "runs": list(previous.get("runs", [])) if previous else [],
    }
    this_run = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                "targets": list(targets) or list(DEFAULT_GROUPS), "files": len(files),
                "timeout": timeout, "jobs": jobs, "cores": os.cpu_count(),
                "processes": "forked" if fork else "spawned",
                "python": sys.version.split()[0]}
    results["runs"].append(this_run)
    lock = threading.Lock()
    start = time.monotonic()
    snapshot = _nnjax_snapshot()

    def save():
        this_run["seconds"] = round(time.monotonic() - start, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
        groups = {e["group"] for e in results["files"].values()}
        out.write_text(report.render(results, {g: files_of_group(root, g) for g in groups}))

    def one(relpath):
        entry = run_file(root, relpath, timeout, fork=fork)
        if snapshot:
            entry["snapshot"] = snapshot
        with lock:
            results["files"][relpath] = entry
            save()
            done.append(relpath)
            print(f"[{len(done)}/{len(files)}] {relpath}: {entry['status']}, "
                  f"{entry['passed']}/{entry['tests']} passed, {entry['seconds']} s",
                  file=log, flush=True)
        return entry

    done = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, longest_first(files, recorded)))
    with lock:
        save()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Run NNabla's Python test suite against nnjax, one pytest process per file.")
    parser.add_argument("checkout", help="an NNabla source checkout (holding python/test)")
    parser.add_argument("targets", nargs="*",
                        help="subfolders or files of python/test ('.' for the top-level "
                             f"test files); default: {' '.join(DEFAULT_GROUPS)}")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="wall-clock seconds per test file (default 300)")
    parser.add_argument("--jobs", type=int, default=1, help="test files run at once")
    parser.add_argument("--out", default="docs/CONFORMANCE.md",
                        help="the Markdown report; conformance.json is written next to it")
    parser.add_argument("--merge", action="store_true",
                        help="keep the results of files not re-run from the existing JSON")
    parser.add_argument("--spawn", action="store_true",
                        help="start each pytest run in a new interpreter instead of forking "
                             "it from a server that imported nnabla once")
    parser.add_argument("--report-only", action="store_true",
                        help="only re-write the Markdown from the existing JSON")
    args = parser.parse_args(argv)
    atexit.register(end_running)
    signal.signal(signal.SIGTERM, end_running)
    signal.signal(signal.SIGINT, end_running)
    if args.report_only:
        out = pathlib.Path(args.out)
        results = load_results(out.with_name("conformance.json"))
        if results is None:
            raise SystemExit(f"conformance: no results next to {out}")
        root = test_root(args.checkout)
        groups = {e["group"] for e in results["files"].values()}
        out.write_text(report.render(results, {g: files_of_group(root, g) for g in groups}))
        return 0
    run(args.checkout, args.targets, timeout=args.timeout, jobs=args.jobs, out=args.out,
        merge=args.merge, fork=not args.spawn)
    return 0
