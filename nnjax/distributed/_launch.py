"""Start N local processes of one script with the environment ``nnabla.communicators``
reads, stream their output prefixed by rank, and end every one of them (non-zero
status) as soon as one fails or the time limit passes."""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 3.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_environment(base, n, rank, coordinator, heartbeat=None):
    env = dict(base)
    env.update(NNJAX_COORDINATOR=coordinator, NNJAX_NUM_PROCESSES=str(n),
               NNJAX_PROCESS_ID=str(rank), NNJAX_LOCAL_RANK=str(rank), PYTHONUNBUFFERED="1")
    if heartbeat is not None:
        env["NNJAX_HEARTBEAT_TIMEOUT"] = str(heartbeat)
    visible = [d for d in base.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if len(visible) > 1:
        env["CUDA_VISIBLE_DEVICES"] = visible[rank % len(visible)]
    return env


def _stream(proc, rank, out, lock):
    prefix = f"[{rank}] ".encode()
    for line in iter(proc.stdout.readline, b""):
        with lock:
            out.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            out.flush()
    proc.stdout.close()


def _end(procs):
    """SIGTERM each live process group, then SIGKILL what is left after a grace period."""
    for p in procs:
        if p.poll() is None:
            _signal_group(p, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            p.wait()


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)  # each child leads its own group (start_new_session)
    except ProcessLookupError:
        pass


def launch(command, n, timeout=None, port=None, heartbeat=None, out=None):
    """Run ``command`` (a list) as ``n`` ranks; return the job's exit status: 0 when all
    succeed, else the first failing rank's status (124 when ``timeout`` seconds pass)."""
    out = out if out is not None else sys.stdout.buffer
    coordinator = f"127.0.0.1:{port or free_port()}"
    lock = threading.Lock()
    procs, readers = [], []
    for rank in range(n):
        p = subprocess.Popen(command, env=rank_environment(os.environ, n, rank, coordinator,
                                                           heartbeat),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
        procs.append(p)
        t = threading.Thread(target=_stream, args=(p, rank, out, lock), daemon=True)
        t.start()
        readers.append(t)
    status = _watch(procs, timeout, out, lock)
    _end(procs)
    for t in readers:
        t.join(timeout=GRACE_SECONDS)
    return status


def _say(out, lock, text):
    with lock:
        out.write(f"nnabla.distributed: {text}\n".encode())
        out.flush()


def _watch(procs, timeout, out, lock):
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(r, c) for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                rank, code = failed[0]
                _say(out, lock, f"rank {rank} failed with status {code}; ending the others")
                return code if code > 0 else 128 - code
            if all(c == 0 for c in codes):
                return 0
            if deadline is not None and time.monotonic() > deadline:
                _say(out, lock, f"time limit of {timeout:g} s reached; ending every rank")
                return 124
            time.sleep(0.05)
    except KeyboardInterrupt:
        _say(out, lock, "interrupted; ending every rank")
        return 130


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m nnabla.distributed",
        usage="python -m nnabla.distributed -n N [options] (script.py | -m module) [args...]",
        description="Run a data-parallel nnabla script as N local processes.")
    p.add_argument("-n", "--nproc", type=int, required=True, help="number of processes")
    p.add_argument("--timeout", type=float, default=None,
                   help="end the job (status 124) after this many seconds")
    p.add_argument("--port", type=int, default=None, help="coordinator port (default: free)")
    p.add_argument("--heartbeat", type=int, default=None,
                   help="seconds after which a silent rank is declared dead")
    return p


def _split(argv):
    """(launcher options, the command to run): the command starts at the first word that
    is not an option or an option's value, or at ``-m``."""
    with_value = {"-n", "--nproc", "--timeout", "--port", "--heartbeat"}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "-m" or not word.startswith("-"):
            break
        i += 1 if "=" in word or word not in with_value else 2
    return argv[:i], argv[i:]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    own, rest = _split(argv)
    opts = _parser().parse_args(own)
    if opts.nproc < 1:
        print(f"nnabla.distributed: -n must be at least 1, got {opts.nproc}", file=sys.stderr)
        return 2
    if rest[:1] == ["-m"] and len(rest) > 1:
        command = [sys.executable] + rest
    elif rest and not rest[0].startswith("-"):
        if not os.path.isfile(rest[0]):
            print(f"nnabla.distributed: no such script: {rest[0]}", file=sys.stderr)
            return 2
        command = [sys.executable] + rest
    else:
        print("nnabla.distributed: give a script to run (or -m module)", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return launch(command, opts.nproc, opts.timeout, opts.port, opts.heartbeat)
    finally:
        signal.signal(signal.SIGTERM, previous)
