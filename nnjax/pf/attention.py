"""Attention PFs: multi_head_attention and the transformer with its encoder and decoder."""
from .. import functions as F
from ..initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .core import _param, affine, parametric_function_api
from .normalization import layer_normalization


@parametric_function_api("multi_head_attention", [
    ("q_weight", "weights for query", "(E, E)", True),
    ("k_weight", "weights for key", "(E_k, E)", True),
    ("v_weight", "weights for value", "(E_v, E)", True),
    ("out_weight", "weigths for out projection", "(E, E)", True),
    ("q_bias", "bias for query", "(E, )", True),
    ("k_bias", "bias for key", "(E, )", True),
    ("v_bias", "bais for value", "(E, )", True),
    ("out_bias", "bias for out projection", "(E, )", True),
    ("attn_bias_k", "attnetion bias for k", "(E, 1)", True),
    ("attn_bias_v", "attnetion bias for v", "(E, 1)", True)])
def multi_head_attention(query, key, value, num_heads=12, dropout=0.0, k_embed_dim=None,
                         v_embed_dim=None, out_dim=None, rng=None, with_bias=True,
                         add_attn_bias=False, additive_mask=None, key_padding_mask=None,
                         fix_parameters=False, param_init=None):
    """Multi-head attention with parameters under ``multi_head_attention``: q/k/v/out
    weights (Glorot uniform), biases (zeros, ``with_bias``), attention biases for key and
    value (``add_attn_bias``). Returns the output and the attention weights."""
    if k_embed_dim is None:
        q_embed_dim = k_embed_dim = int(query.shape[2])
    else:
        q_embed_dim = k_embed_dim
    if v_embed_dim is None:
        v_embed_dim = int(value.shape[2])
    if out_dim is None:
        out_dim = v_embed_dim
    param_init = dict(param_init or {})
    fix = fix_parameters
    q_init = param_init.get("q_weight", UniformInitializer(
        calc_uniform_lim_glorot(query.shape[2], q_embed_dim), rng))
    k_init = param_init.get("k_weight", UniformInitializer(
        calc_uniform_lim_glorot(key.shape[2], k_embed_dim), rng))
    v_init = param_init.get("v_weight", UniformInitializer(
        calc_uniform_lim_glorot(value.shape[2], v_embed_dim), rng))
    qw = _param("q_weight", (int(query.shape[2]), q_embed_dim), q_init, True, fix)
    kw = _param("k_weight", (int(key.shape[2]), k_embed_dim), k_init, True, fix)
    vw = _param("v_weight", (int(value.shape[2]), v_embed_dim), v_init, True, fix)
    o_init = param_init.get("out_weight", UniformInitializer(
        calc_uniform_lim_glorot(v_embed_dim, out_dim), rng))
    ow = _param("out_weight", (v_embed_dim, out_dim), o_init, True, fix)
    qb = kb = vb = ob = None
    if with_bias:
        qb = _param("q_bias", (q_embed_dim,), param_init.get("q_bias", ConstantInitializer()),
                    True, fix)
        kb = _param("k_bias", (k_embed_dim,), param_init.get("k_bias", ConstantInitializer()),
                    True, fix)
        vb = _param("v_bias", (v_embed_dim,), param_init.get("v_bias", ConstantInitializer()),
                    True, fix)
        ob = _param("out_bias", (out_dim,), param_init.get("out_bias", ConstantInitializer()),
                    True, fix)
    abk = abv = None
    if add_attn_bias:
        abk_init = param_init.get("attn_bias_k", UniformInitializer(
            calc_uniform_lim_glorot(k_embed_dim, 1), rng))
        abv_init = param_init.get("attn_bias_v", UniformInitializer(
            calc_uniform_lim_glorot(v_embed_dim, 1), rng))
        abk = _param("attn_bias_k", (1, 1, k_embed_dim), abk_init, True, fix)
        abv = _param("attn_bias_v", (1, 1, v_embed_dim), abv_init, True, fix)
    return F.multi_head_attention(query, key, value, num_heads, qw, kw, vw, ow, qb, kb, vb,
                                  ob, abk, abv, dropout, additive_mask=additive_mask,
                                  key_padding_mask=key_padding_mask)


@parametric_function_api("transformer", [
    ("encoder{layer#}", "parameters for the n'th encoder layer",
     "Refer to transformer_encode for details", True),
    ("decoder{layer#}", "parameters for the n'th decoder layer",
     "Refer to transformer_decode for details", True)])
def transformer(src, tgt, embed_dim=512, num_heads=8, num_encoder_layers=6,
                num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation=None,
                src_additive_mask=None, tgt_additive_mask=None, memory_additive_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, rng=None, add_attn_bias=False,
                fix_parameters=False):
    """Transformer (Vaswani et al.): ``num_encoder_layers`` encoder layers
    (``transformer/encoderNN``) over src (L_S, B, E), then ``num_decoder_layers``
    decoder layers (``transformer/decoderNN``) over tgt (L_T, B, E)."""
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(f"transformer: batch sizes of src {tuple(src.shape)} and tgt "
                         f"{tuple(tgt.shape)} differ")
    if src.shape[2] != embed_dim or tgt.shape[2] != embed_dim:
        raise ValueError(f"transformer: the feature sizes of src {tuple(src.shape)} and tgt "
                         f"{tuple(tgt.shape)} must equal embed_dim={embed_dim}")
    memory = src
    for i in range(num_encoder_layers):
        memory = transformer_encode(
            memory, embed_dim=embed_dim, num_heads=num_heads, dim_feedforward=dim_feedforward,
            dropout=dropout, activation=activation, src_additive_mask=src_additive_mask,
            src_key_padding_mask=src_key_padding_mask, rng=rng, add_attn_bias=add_attn_bias,
            fix_parameters=fix_parameters, name="encoder{:02d}".format(i))
    output = tgt
    for i in range(num_decoder_layers):
        output = transformer_decode(
            output, memory, embed_dim=embed_dim, num_heads=num_heads,
            dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
            tgt_additive_mask=tgt_additive_mask, memory_additive_mask=memory_additive_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask, rng=rng,
            add_attn_bias=add_attn_bias, fix_parameters=fix_parameters,
            name="decoder{:02d}".format(i))
    return output


@parametric_function_api("transformer_encode", [
    ("src_self_attn", "self-attention parameters for source sequence",
     "Refer to multi_head_attention for details", True),
    ("enc_affine1", "first affine used in encoder", "Refer to affine for details", True),
    ("enc_affine2", "second affine used in encoder", "Refer to affine for details", True),
    ("enc_layer_norm1", "fist layer normalization used in encoder",
     "Refer to layer_normalization for details", True),
    ("enc_layer_norm2", "second layer normalization used in encoder",
     "Refer to layer_normalization for details", True)])
def transformer_encode(src, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, src_additive_mask=None, src_key_padding_mask=None,
                       rng=None, add_attn_bias=False, fix_parameters=False):
    """One encoder layer: self-attention, residual + layer norm, feed-forward
    (``enc_affine1`` -> activation -> ``enc_affine2``), residual + layer norm.

    As in NNabla, the sub-layers are built with their own defaults (``rng`` and
    ``fix_parameters`` are not passed on)."""
    if activation is None:
        activation = F.relu
    attn = multi_head_attention(src, src, src, num_heads=num_heads,
                                add_attn_bias=add_attn_bias, additive_mask=src_additive_mask,
                                key_padding_mask=src_key_padding_mask,
                                name="src_self_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    src = layer_normalization(src + attn, batch_axis=(0, 1), name="enc_layer_norm1")
    hidden = activation(affine(src, dim_feedforward, base_axis=2, name="enc_affine1"))
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    hidden = affine(hidden, embed_dim, base_axis=2, name="enc_affine2")
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    return layer_normalization(src + hidden, batch_axis=(0, 1), name="enc_layer_norm2")


@parametric_function_api("transformer_decode", [
    ("tgt_self_attn", "self-attention parameters for target sequence",
     "Refer to multi_head_attention for details", True),
    ("tgt_memory_attn", "attention parameters for target sequence with output from encoder "
     "as key", "Refer to multi_head_attention for details", True),
    ("dec_affine1", "first affine used in decoder", "Refer to affine for details", True),
    ("dec_affine2", "second affine used in decoder", "Refer to affine for details", True),
    ("dec_layer_norm1", "fist layer normalization used in decoder",
     "Refer to layer_normalization for details", True),
    ("dec_layer_norm2", "second layer normalization used in decoder",
     "Refer to layer_normalization for details", True),
    ("dec_layer_norm3", "third layer normalization used in decoder",
     "Refer to layer_normalization for details", True)])
def transformer_decode(tgt, memory, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, tgt_additive_mask=None, memory_additive_mask=None,
                       tgt_key_padding_mask=None, memory_key_padding_mask=None, rng=None,
                       add_attn_bias=False, fix_parameters=False):
    """One decoder layer: self-attention, residual + layer norm, attention over
    ``memory``, residual + layer norm, feed-forward, residual + layer norm."""
    if activation is None:
        activation = F.relu
    attn = multi_head_attention(tgt, tgt, tgt, num_heads=num_heads,
                                add_attn_bias=add_attn_bias, additive_mask=tgt_additive_mask,
                                key_padding_mask=tgt_key_padding_mask,
                                name="tgt_self_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    tgt = layer_normalization(tgt + attn, batch_axis=(0, 1), name="dec_layer_norm1")
    attn = multi_head_attention(tgt, memory, memory, num_heads=num_heads,
                                add_attn_bias=add_attn_bias,
                                additive_mask=memory_additive_mask,
                                key_padding_mask=memory_key_padding_mask,
                                name="tgt_memory_attn")[0]
    if dropout > 0:
        attn = F.dropout(attn, dropout)
    tgt = layer_normalization(tgt + attn, batch_axis=(0, 1), name="dec_layer_norm2")
    hidden = activation(affine(tgt, dim_feedforward, base_axis=2, name="dec_affine1"))
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    hidden = affine(hidden, embed_dim, base_axis=2, name="dec_affine2")
    if dropout > 0:
        hidden = F.dropout(hidden, dropout)
    return layer_normalization(tgt + hidden, batch_axis=(0, 1), name="dec_layer_norm3")
