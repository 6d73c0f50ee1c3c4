"""Short training demo: the "NNabla by Examples" MLP on scikit-learn's 8x8 digits.

Run ``python -m nnjax.demo`` (options: ``--iterations``, ``--batch-size``,
``--learning-rate``, ``--seed``). The script below is plain NNabla code: it
imports ``nnabla`` and runs unmodified on nnjax.
"""
import argparse
import sys
import time

import numpy as np

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.solvers as S


def load_digits_split(seed=0, test_fraction=0.2):
    """Digits scaled to [0, 1], shuffled with ``seed``, split into train and test."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8)
    labels = digits.target.astype(np.int32)[:, None]
    order = np.random.RandomState(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    n_test = int(len(images) * test_fraction)
    return (images[n_test:], labels[n_test:]), (images[:n_test], labels[:n_test])


def mlp(x, hidden=(16, 16), n_classes=10):
    h = x
    for i, units in enumerate(hidden):
        with nn.parameter_scope(f"fc{i}"):
            h = F.tanh(PF.affine(h, units))
    with nn.parameter_scope("fc_out"):
        return PF.affine(h, n_classes)


def train(iterations=1000, batch_size=64, learning_rate=1e-3, seed=0, log_every=100,
          progress=True, printer=print):
    """Train the MLP; returns a dict with the loss history and the test error.

    ``printer`` receives each report line; while the progress bar is shown, the bar
    is cleared before a line is printed and redrawn after it (as tqdm's ``write``
    does), so bar and lines never share a terminal line.
    """
    nn.clear_parameters()
    nn.seed(seed)
    (train_x, train_t), (test_x, test_t) = load_digits_split(seed)

    x = nn.Variable((batch_size, 1, 8, 8))
    t = nn.Variable((batch_size, 1))
    y = mlp(x)
    loss = F.mean(F.softmax_cross_entropy(y, t))

    solver = S.Adam(learning_rate)
    solver.set_parameters(nn.get_parameters())

    rng = np.random.RandomState(seed)
    losses = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=iterations, desc="training", unit="it", leave=False)

    def report(line):
        if bar is None:
            printer(line)
            return
        with bar.external_write_mode(file=sys.stdout):
            printer(line)
            sys.stdout.flush()

    compiles_before = nn.compile_count()
    start = time.perf_counter()
    for i in range(iterations):
        idx = rng.randint(0, len(train_x), size=batch_size)
        x.d, t.d = train_x[idx], train_t[idx]
        loss.forward()
        solver.zero_grad()
        loss.backward()
        solver.update()
        if (i + 1) % log_every == 0 or i == 0:
            losses.append((i + 1, float(loss.d)))
            if bar is not None:
                bar.set_postfix(loss=f"{losses[-1][1]:.4f}")
            report(f"iter {i + 1:5d}  loss {losses[-1][1]:.4f}")
        if bar is not None:
            bar.update(1)
    nn.synchronize()
    seconds = time.perf_counter() - start
    compiles_in_loop = nn.compile_count() - compiles_before
    if bar is not None:
        bar.close()

    # test error with a graph built for the whole test set
    xt = nn.Variable((len(test_x), 1, 8, 8))
    yt = mlp(xt)
    xt.d = test_x
    yt.forward(clear_buffer=True)
    error = float(np.mean(np.argmax(yt.d, axis=1) != test_t[:, 0]))
    result = dict(losses=losses, test_error=error, seconds=seconds,
                  compiles_in_loop=compiles_in_loop,
                  params=list(nn.get_parameters().keys()))
    printer(f"test error {error:.4f}; {iterations} steps in {seconds:.2f} s "
            f"({1e3 * seconds / iterations:.3f} ms/step); programs compiled in the loop: "
            f"{result['compiles_in_loop']}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    train(args.iterations, args.batch_size, args.learning_rate, args.seed,
          progress=not args.no_progress)


if __name__ == "__main__":
    main()
