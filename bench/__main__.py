"""Benchmarks: nnjax (NNabla-API scripts) vs hand-written jax.jit+optax vs PyTorch eager.

    python -m bench            # full run (a few minutes)
    python -m bench --quick    # about a minute
    python -m bench --only tiny_mlp_sgd,mlp_adam --json out.json

For each workload the three implementations start from the same weights and
data. After warm-up they are timed interleaved, in rounds of a few steps each
(the order turning every round, each round after a short pause that lets the
previous side's threads go idle), so machine noise hits all three alike; the
table reports the median step time, the ratios (also of each side's fastest
round, which a noisy shared machine disturbs least), the first-step (compile)
time, the losses after the same number of steps, and peak memory measured in a
separate process per implementation.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from . import workloads as W


def _sync_all():
    import nnabla as nn
    nn.synchronize()


def _timed(step, loss_fn, steps):
    """Seconds per step over ``steps`` steps, waiting for the last result."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    loss_fn()  # forces completion (a host read)
    return (time.perf_counter() - t0) / steps


WARMUP_LIMIT = 1000


def _warm_up(name, step, warmup):
    """Run ``warmup`` steps; nnjax's go on until enough steps in a row neither
    compiled nor tiered up a program: more than a graph's function-by-function
    runs and a program's first-tier runs before its timed one (its tiered
    compile settles within about a hundred steps; the timed rounds measure the
    steady state of every side). Returns the number of steps run."""
    if name != "nnjax":
        for _ in range(warmup):
            step()
        return warmup
    import nnabla as nn
    from nnjax import _program
    warmup = max(warmup, _program.BY_FUNCTION_RUNS + _program.TIER_UP_HITS)

    def settled_state():
        stats = nn.compile_stats()
        return stats.compiles, stats.tier_ups

    done = quiet = 0
    state = settled_state()
    while quiet < warmup and done < WARMUP_LIMIT:
        step()
        done += 1
        now = settled_state()
        quiet = quiet + 1 if now == state else 0
        state = now
    return done


# PyTorch's OpenMP threads (libgomp) spin for 5-20 ms after its last parallel region;
# a round started in that time shares the cores with them (a hand-written Elman step:
# 183 us right after a PyTorch round, 128 us after a 50 ms pause). Each timed round
# starts after this long, and the order of the sides turns every round, so no side
# always follows the same one.
SETTLE_S = 0.03


def _settle(seconds):
    """Wait ``seconds`` on the CPU: the previous side's spinning threads run out, and
    (unlike a sleep, after which the first steps ran slower) the core stays awake."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def round_orders(impls, rounds):
    """The order of the sides in each timed round: ``impls`` turned by one per round."""
    impls = list(impls)
    return [impls[r % len(impls):] + impls[:r % len(impls)] for r in range(rounds)]


def run_workload(cls, impls, warmup, rounds, steps_per_round, seed=0, factories=None,
                 record_warmup=False):
    factories = W.IMPLS if factories is None else factories
    row = {"workload": cls.name, "impls": {}}
    built = {}
    for name in impls:
        wl = cls(seed)
        t0 = time.perf_counter()
        step, loss = factories[name](wl)
        step()
        first = loss()
        compile_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        warmup_steps = _warm_up(name, step, warmup)
        loss()
        built[name] = (step, loss)
        row["impls"][name] = {"first_step_s": compile_s, "first_loss": first, "times": [],
                              "warmup_steps": warmup_steps}
        if record_warmup:  # (what a tiered compile does after the first step lands here)
            row["impls"][name]["warmup_s"] = time.perf_counter() - t1
    for order in round_orders(impls, rounds):
        for name in order:
            step, loss = built[name]
            _settle(SETTLE_S)
            row["impls"][name]["times"].append(_timed(step, loss, steps_per_round))
    for name in impls:
        r = row["impls"][name]
        r["median_ms"] = 1e3 * float(np.median(r["times"]))
        r["fastest_ms"] = 1e3 * float(np.min(r["times"]))  # (least disturbed by the machine)
        r["final_loss"] = built[name][1]()
        del r["times"]
    if "nnjax" in impls:
        import nnabla as nn
        row["impls"]["nnjax"]["compile_stats"] = repr(nn.compile_stats())
    return row


def same_steps_losses(cls, impls, n_steps, seed=0, factories=None):
    """Loss after exactly ``n_steps`` steps from the same start, per implementation."""
    factories = W.IMPLS if factories is None else factories
    out = {}
    for name in impls:
        wl = cls(seed)
        step, loss = factories[name](wl)
        for _ in range(n_steps):
            step()
        out[name] = loss()
    return out


def peak_memory(cls_name, impl, steps):
    """Peak resident memory growth (MiB) over ``steps`` steps, in a fresh process.

    The baseline is the resident size after imports and data set-up; the
    resident size is sampled after every step (so it covers the parameters,
    optimizer state, buffers and compiled code each implementation keeps).
    """
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "def rss():\n"
        "    with open('/proc/self/statm') as f:\n"
        "        return int(f.read().split()[1]) * 4096 / 2**20\n"
        "from bench import workloads as W\n"
        "import numpy as np\n"
        "cls = [c for c in W.WORKLOADS if c.name == %r][0]\n"
        "wl = cls(0)\n"
        "import %s\n"
        "base = rss(); peak = base\n"
        "step, loss = W.IMPLS[%r](wl)\n"
        "for _ in range(%d):\n"
        "    step(); peak = max(peak, rss())\n"
        "loss(); peak = max(peak, rss())\n"
        "print(peak - base)\n"
    ) % (os.path.dirname(os.path.dirname(os.path.abspath(__file__))), cls_name,
         {"nnjax": "nnabla, jax", "jax": "jax, optax", "torch": "torch"}[impl], impl, steps)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        return None
    return float(res.stdout.strip().splitlines()[-1])


def format_table(rows):
    lines = ["| workload | nnjax ms | jax ms | torch ms | nnjax/jax | nnjax/torch | "
             "fastest rounds nnjax/jax, nnjax/torch | compile s (nnjax/jax) | "
             "loss after N (nnjax/jax/torch) | peak MiB (nnjax/jax/torch) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        im = r["impls"]
        ms = {k: im[k]["median_ms"] for k in im}
        fastest = {k: im[k].get("fastest_ms") for k in im}

        def fastest_ratio(a, b):
            if fastest.get(a) is None or fastest.get(b) is None:
                return "-"
            return f"{fastest[a] / fastest[b]:.2f}"

        def fmt(k):
            return f"{ms[k]:.3f}" if k in ms else "-"

        def ratio(a, b):
            return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "-"
        comp = "/".join(f"{im[k]['first_step_s']:.2f}" for k in ("nnjax", "jax") if k in im)
        losses = r.get("losses_after_n", {})
        loss_s = "/".join(f"{losses[k]:.4f}" for k in ("nnjax", "jax", "torch") if k in losses)
        mem = r.get("peak_mib", {})
        mem_s = "/".join("-" if mem.get(k) is None else f"{mem[k]:.0f}"
                         for k in ("nnjax", "jax", "torch") if k in mem)
        lines.append(f"| {r['workload']} | {fmt('nnjax')} | {fmt('jax')} | {fmt('torch')} | "
                     f"{ratio('nnjax', 'jax')} | {ratio('nnjax', 'torch')} | "
                     f"{fastest_ratio('nnjax', 'jax')}, {fastest_ratio('nnjax', 'torch')} | "
                     f"{comp} | {loss_s} | {mem_s} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description="nnjax benchmarks")
    ap.add_argument("--quick", action="store_true", help="short run (about a minute)")
    ap.add_argument("--only", default="", help="comma-separated workload names")
    ap.add_argument("--impls", default="nnjax,jax,torch")
    ap.add_argument("--json", default="bench/results.json")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--sweeps", action="store_true",
                    help="sweeps over batch size, MLP width and a deep ResNet-style CNN "
                         "(nnjax vs hand-written JAX; see bench/sweeps.py)")
    args = ap.parse_args(argv)
    if args.sweeps:
        return run_sweeps_main(args)

    impls = [i for i in args.impls.split(",") if i]
    if "torch" in impls:
        try:
            import torch
            torch.set_num_threads(os.cpu_count() or 1)
        except ImportError:
            print("torch is not installed (pip install 'torch==2.13.0'); skipping it")
            impls.remove("torch")
    selected = [c for c in W.WORKLOADS if not args.only or c.name in args.only.split(",")]
    warmup, rounds, per_round, n_loss = (10, 7, 20, 20) if args.quick else (30, 15, 50, 50)

    import jax
    rows = []
    for cls in selected:
        row = run_workload(cls, impls, warmup, rounds, per_round)
        row["losses_after_n"] = same_steps_losses(cls, impls, n_loss)
        row["n_loss_steps"] = n_loss
        if not args.no_memory:
            row["peak_mib"] = {i: peak_memory(cls.name, i, 30 if args.quick else 100)
                               for i in impls}
        rows.append(row)
        print(format_table([row]).splitlines()[-1], flush=True)

    meta = {"device": str(jax.devices()[0]), "cpus": os.cpu_count(),
            "quick": args.quick, "python": sys.version.split()[0],
            "jax": jax.__version__}
    print()
    print(f"device: {meta['device']}, {meta['cpus']} CPUs; median ms per step over "
          f"{rounds} interleaved rounds of {per_round} steps (and the ratios of each side's "
          f"fastest round); losses after {n_loss} steps")
    print(format_table(rows))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        os.replace(tmp, args.json)
        print(f"\nwrote {args.json}")


def run_sweeps_main(args):
    import jax
    from . import sweeps
    rows = sweeps.run_sweeps(args.quick, run_workload, same_steps_losses)
    meta = {"device": str(jax.devices()[0]), "cpus": os.cpu_count(), "quick": args.quick,
            "python": sys.version.split()[0], "jax": jax.__version__}
    print()
    print(f"device: {meta['device']}, {meta['cpus']} CPUs; sweeps, median ms per step; "
          f"first step = graph set-up + compile + one step")
    print(sweeps.format_sweeps(rows))
    if args.json:
        path = args.json
        if path == "bench/results.json":  # the default: keep the main table's file
            path = "bench/results_sweeps.json"
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
        os.replace(tmp, path)
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
