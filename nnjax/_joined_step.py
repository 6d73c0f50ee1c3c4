"""A forward and the backward that follows it in the same queue, as one op.

The backward's ``jax.vjp`` traces the forward; its primal values are the
forward's results. As two ops the program computes the forward twice wherever
XLA does not see that the backward's primal computation and the forward are
the same (it writes x / sqrt(v) as x * rsqrt(v) in one and not the other),
which a hand-written ``value_and_grad`` never does.
"""
import jax
import jax.numpy as jnp

from ._plan import run_steps, step_callables, sum_groups
from ._queue import Op, Template


def merged_op(plan, info, fwd, bwd):
    """The op computing ``fwd`` (a forward op) and ``bwd`` (a backward op of the same
    plan) together, or None where they must stay apart."""
    ft, bt = fwd.template, bwd.template
    if (fwd.record is None or fwd.record.plan is not plan or not ft.reusable
            or not bt.reusable or bt.key[0] != "backward"):
        return None
    key = ("merged", ft.tid, bt.tid)
    template = plan.cache.get(key)
    if template is None:
        template = plan.cache[key] = _merged_template(plan, info, ft, bt) or False
    if template is False:
        return None
    n_fwd = len(ft.reads)
    parts = ((fwd.record, 0, n_fwd), (bwd.record, n_fwd, n_fwd + len(bt.reads)))
    return Op(template=template, operands=fwd.operands + bwd.operands, parts=parts)


def _merged_template(plan, info, ft, bt):
    """The template of a forward and its backward as one op, or None where merging
    could change a value: the backward reads no intermediate grads, seeds with a
    constant, differentiates float leaves only and no function reads prior state."""
    _, steps, root_slots, materialize, state_slots, prior_slots = ft.key
    (_, b_steps, b_root_slots, diff_roots, group_of, inter, _, stop, out_slot, _, seed_key,
     data_roots) = bt.key
    if (b_steps != steps or b_root_slots != root_slots or inter or data_roots or prior_slots
            or seed_key[0] != "const" or plan.cache.get("has-prior-state")
            or group_of is None):
        return None
    variables = plan.variables
    if not all(jnp.issubdtype(variables[s]._buffers.data.dtype, jnp.inexact)
               for s in diff_roots):
        return None
    callables = step_callables(plan)
    n_vars = len(variables)
    n_roots = len(root_slots)
    n_fwd_reads = len(ft.reads)
    n_groups = len(info.grad_arrays)
    has_rng = bool(plan.rng_functions)
    seed = seed_key[1]
    stop = frozenset(stop)

    def build():
        def run(read_values, operands):
            root_values = read_values[:n_roots]
            old_grads = read_values[n_fwd_reads + n_roots:n_fwd_reads + n_roots + n_groups]
            keys = operands[0] if has_rng else None
            fixed = dict(zip(root_slots, root_values))

            def f(diff_values):
                env = [None] * n_vars
                for s, v in fixed.items():
                    env[s] = jax.lax.stop_gradient(v)
                for s, v in zip(diff_roots, diff_values):
                    env[s] = v
                updates = run_steps(steps, callables, env, keys, stop=stop)
                results = ([env[s] for s in materialize]
                           + [updates.get(s, env[s]) for s in state_slots])
                return env[out_slot], results

            out, vjp, results = jax.vjp(f, tuple(fixed[s] for s in diff_roots), has_aux=True)
            (g_roots,) = vjp(jnp.broadcast_to(jnp.asarray(seed, out.dtype), out.shape))
            sums = sum_groups(group_of, n_groups, g_roots)
            return list(results) + [old + g.astype(old.dtype) for old, g in zip(old_grads, sums)]
        return run
    n_fwd_writes = len(ft.writes)
    return Template(("merged", ft.key, bt.key), ft.reads + bt.reads, ft.writes + bt.writes,
                    build, "backward", reusable=True,
                    optional=[n_fwd_writes + j for j in bt.optional])
