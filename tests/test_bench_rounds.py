"""The benchmark's timed rounds: every side follows every other equally often, and
each round starts after the settling pause."""
import itertools

import pytest

bench_main = pytest.importorskip("bench.__main__")


def test_round_orders_turn_so_no_side_always_follows_the_same_one():
    impls = ["nnjax", "jax", "torch"]
    orders = bench_main.round_orders(impls, 6)
    assert orders[:3] == [["nnjax", "jax", "torch"], ["jax", "torch", "nnjax"],
                          ["torch", "nnjax", "jax"]]
    assert orders[3:] == orders[:3]
    run = list(itertools.chain.from_iterable(orders))
    follows = {}
    for before, after in zip(run, run[1:]):
        follows.setdefault(after, []).append(before)
    # across the rounds each side runs right after each other side, not always after one
    for side in impls:
        assert set(follows[side]) == set(impls) - {side}
    assert all(sorted(o) == sorted(impls) for o in orders)


def test_each_timed_round_waits_for_the_previous_sides_threads(monkeypatch):
    events = []

    class FakeWorkload:
        name = "fake"

        def __init__(self, seed):
            pass

    def factory(label):
        def make(wl):
            return (lambda: events.append(("step", label)),
                    lambda: events.append(("loss", label)) or 1.0)
        return make

    monkeypatch.setattr(bench_main, "_settle", lambda s: events.append(("settle", s)))
    factories = {"a": factory("a"), "b": factory("b")}
    row = bench_main.run_workload(FakeWorkload, ["a", "b"], warmup=1, rounds=4,
                                  steps_per_round=2, factories=factories)
    assert set(row["impls"]) == {"a", "b"}
    timed = events[events.index(("settle", bench_main.SETTLE_S)):]
    # each round: the pause, two steps, the loss read that waits for them
    rounds = [timed[i:i + 4] for i in range(0, 4 * 2 * 4, 4)]
    assert timed[4 * 2 * 4:] == [("loss", "a"), ("loss", "b")]  # the final losses
    sides = [r[1][1] for r in rounds]
    assert sides == ["a", "b", "b", "a", "a", "b", "b", "a"]
    for r, side in zip(rounds, sides):
        assert r == [("settle", bench_main.SETTLE_S), ("step", side), ("step", side),
                     ("loss", side)]


def test_settle_waits_at_least_its_time():
    import time
    start = time.perf_counter()
    bench_main._settle(0.01)
    assert time.perf_counter() - start >= 0.01
