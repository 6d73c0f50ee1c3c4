"""Multi-head attention, a composite of affine, reshape, batch matmul and softmax
functions (it records no node of its own)."""
from . import activation, array, layers, logical, stochastic
from ._common import int_shape
from .math import batch_matmul, constant


def _pad_last(v):
    """Append one zero column along the last axis (NNabla: F.pad(v, (0, 1)))."""
    return array.pad(v, (0, 1))


def _mask_fill(cond, values):
    """``values`` with -inf where ``cond`` is set (NNabla: F.where with F.constant)."""
    return logical.where(cond, constant(val=float("-inf"), shape=values.shape), values)


def multi_head_attention(query, key, value, num_heads, q_weight, k_weight, v_weight,
                         out_weight, q_bias=None, k_bias=None, v_bias=None, out_bias=None,
                         attn_bias_k=None, attn_bias_v=None, dropout=0.0, additive_mask=None,
                         key_padding_mask=None):
    """Multi-head attention (Vaswani et al.) as a composite of functions.

    query (L_T, B, D_q), key/value (L_S, B, D_k/D_v); projection weights (D, E); returns
    the output (L_T, B, E_out) and the attention weights (B * num_heads, L_T, L_S).
    """
    fname = "multi_head_attention"
    for name, v in (("query", query), ("key", key), ("value", value)):
        if len(v.shape) != 3:
            raise ValueError(f"{fname}: {name} must be 3-D (L, B, D), got {int_shape(v)}")
    tgt_len, batch_size, _ = int_shape(query)
    src_len = key.shape[0]
    if key.shape[1] != batch_size or value.shape[1] != batch_size:
        raise ValueError(f"{fname}: batch sizes of query {int_shape(query)}, key "
                         f"{int_shape(key)} and value {int_shape(value)} differ")
    if value.shape[0] != src_len:
        raise ValueError(f"{fname}: key {int_shape(key)} and value {int_shape(value)} "
                         "lengths differ")
    q_embed_dim = q_weight.shape[1]
    k_embed_dim = k_weight.shape[1]
    v_embed_dim = v_weight.shape[1]
    num_heads = int(num_heads)
    if q_embed_dim != k_embed_dim:
        raise ValueError(f"{fname}: query and key embedding dims differ "
                         f"({q_embed_dim} != {k_embed_dim})")
    if num_heads < 1 or q_embed_dim % num_heads or v_embed_dim % num_heads:
        raise ValueError(f"{fname}: embedding dims ({q_embed_dim}, {v_embed_dim}) must be "
                         f"divisible by num_heads={num_heads}")
    head_dim = q_embed_dim // num_heads
    head_vdim = v_embed_dim // num_heads
    if key_padding_mask is not None and int_shape(key_padding_mask) != (batch_size, src_len):
        raise ValueError(f"{fname}: key_padding_mask shape {int_shape(key_padding_mask)} "
                         f"must be {(batch_size, src_len)}")

    q = layers.affine(query, q_weight, q_bias, base_axis=2)
    k = layers.affine(key, k_weight, k_bias, base_axis=2)
    v = layers.affine(value, v_weight, v_bias, base_axis=2)
    q = q * (float(head_dim) ** -0.5)

    if attn_bias_k is not None:
        bk = array.reshape(attn_bias_k, (1, 1, k_embed_dim))
        bv = array.reshape(attn_bias_v, (1, 1, v_embed_dim))
        src_len += 1
        bk = array.broadcast(bk, (1, batch_size, k_embed_dim))
        bv = array.broadcast(bv, (1, batch_size, v_embed_dim))
        k = array.concatenate(k, bk, axis=0)
        v = array.concatenate(v, bv, axis=0)
        if additive_mask is not None:
            additive_mask = _pad_last(additive_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)

    heads = batch_size * num_heads
    q = array.transpose(array.reshape(q, (tgt_len, heads, head_dim)), (1, 0, 2))
    k = array.transpose(array.reshape(k, (-1, heads, head_dim)), (1, 0, 2))
    v = array.transpose(array.reshape(v, (-1, heads, head_vdim)), (1, 0, 2))

    w = batch_matmul(q, k, transpose_b=True)     # (B*H, L_T, L_S)
    if additive_mask is not None:
        w = w + array.reshape(additive_mask, (1,) + tuple(additive_mask.shape))
    if key_padding_mask is not None:
        w = array.reshape(w, (batch_size, num_heads, tgt_len, src_len))
        cond = array.broadcast(array.reshape(key_padding_mask, (batch_size, 1, 1, src_len)),
                               w.shape)
        w = _mask_fill(cond, w)
        w = array.reshape(w, (batch_size * num_heads, tgt_len, src_len))
    w = activation.softmax(w, axis=len(w.shape) - 1)
    if dropout > 0:
        w = stochastic.dropout(w, p=dropout)

    out = batch_matmul(w, v)                     # (B*H, L_T, head_vdim)
    out = array.reshape(array.transpose(out, (1, 0, 2)), (tgt_len, batch_size, v_embed_dim))
    out = layers.affine(out, out_weight, out_bias, base_axis=2)
    return out, w
