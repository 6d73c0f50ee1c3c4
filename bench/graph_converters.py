"""Inference speed of a ResNet-style net before and after graph conversion.

    python -m bench.graph_converters [--batch 16] [--size 32] [--rounds 15]

Times ``y.forward()`` (one compiled program each) of the original test-mode graph,
the BN-folded one, the channel-last one and both, and the jitted
``jax_inference_function`` with its rewrites, interleaved in rounds so
machine noise hits all alike; prints the median ms per forward and the largest
output difference from the original.
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import nnabla as nn
import nnabla.functions as F
import nnabla.parametric_functions as PF
import nnabla.experimental.graph_converters as GC


def resnet(x, blocks=4, maps=32):
    h = PF.convolution(x, maps, (3, 3), pad=(1, 1), with_bias=False, name="conv0")
    h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn0"))
    for i in range(blocks):
        with nn.parameter_scope(f"block{i}"):
            r = PF.convolution(h, maps, (3, 3), pad=(1, 1), with_bias=False, name="c1")
            r = F.relu(PF.batch_normalization(r, batch_stat=False, name="bn1"))
            r = PF.convolution(r, maps, (3, 3), pad=(1, 1), with_bias=False, name="c2")
            r = PF.batch_normalization(r, batch_stat=False, name="bn2")
        h = F.relu(h + r)
        if i % 2 == 1:
            h = F.max_pooling(h, (2, 2))
    return PF.affine(F.global_average_pooling(h), 10, name="fc")


def build(batch, size, rng):
    x = nn.Variable.from_numpy_array(rng.randn(batch, 3, size, size).astype(np.float32))
    y = resnet(x)
    for k, p in nn.get_parameters(grad_only=False).items():
        if k.endswith(("/mean", "/beta")):
            p.d = rng.uniform(-0.5, 0.5, p.shape)
        elif k.endswith(("/var", "/gamma")):
            p.d = rng.uniform(0.5, 1.5, p.shape)
    folded = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    last = GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(y)
    both = GC.GraphConverter([GC.ChannelLastModifier([x])]).convert(folded)
    graphs = {"original": y, "BN folded": folded, "channel last": last,
              "BN folded + channel last": both}
    return graphs, x


class JaxForward:
    """A jitted ``jax_inference_function`` made to look like ``y`` to the timer."""

    def __init__(self, y, x, **rewrites):
        fn, self.params = GC.jax_inference_function(y, [x], **rewrites)
        self.fn = jax.jit(fn)
        self.x = jnp.asarray(x.d)
        self.out = None

    def forward(self):
        self.out = self.fn(self.params, self.x)

    @property
    def d(self):
        return np.asarray(self.out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    graphs, x = build(args.batch, args.size, np.random.RandomState(0))
    y = graphs["original"]
    graphs.update({
        "JAX fn": JaxForward(y, x, fold_batch_norm=False),
        "JAX fn, BN folded": JaxForward(y, x),
        "JAX fn, BN folded + channel last": JaxForward(y, x, channel_last=True),
        "JAX fn, BN folded + bfloat16": JaxForward(y, x, compute_dtype=jnp.bfloat16),
    })
    for y in graphs.values():  # compile
        y.forward()
        nn.synchronize()
    times = {k: [] for k in graphs}
    for _ in range(args.rounds):
        for k, y in graphs.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                y.forward()
            y.d  # waits for the result
            times[k].append((time.perf_counter() - t0) / args.steps * 1e3)
    ref = np.array(graphs["original"].d)
    base = np.median(times["original"])
    print(f"batch {args.batch}, 3x{args.size}x{args.size}, {jax_device()}")
    print("| graph | ms / forward | speed-up | max abs diff |")
    print("|---|---|---|---|")
    for k, y in graphs.items():
        ms = np.median(times[k])
        print(f"| {k} | {ms:.2f} | {base / ms:.2f}x | {np.abs(np.array(y.d) - ref).max():.1e} |")


def jax_device():
    return jax.devices()[0].device_kind


if __name__ == "__main__":
    main()
