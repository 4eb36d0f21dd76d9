"""One prompt through one transformer block, stage by stage, recomputed by hand from the weights.

tiny-lm is a Llama (Touvron et al. 2023, https://arxiv.org/abs/2302.13971): a pre-norm decoder block

    h   = x + o_proj(Attention(RoPE(q_proj(n1)), RoPE(k_proj(n1)), v_proj(n1)))   n1 = RMSNorm(x)
    out = h + down_proj(SiLU(gate_proj(n2)) * up_proj(n2))                         n2 = RMSNorm(h)

with RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467), rotary positions (Su et al.
2021, https://arxiv.org/abs/2104.09864), grouped-query attention (Ainslie et al. 2023,
https://arxiv.org/abs/2305.13245) and a SwiGLU MLP (Shazeer 2020, https://arxiv.org/abs/2002.05202).
`trace_block` recomputes every stage in float64 numpy from the weights and checks the result
against the model's own `output_hidden_states` at the block's boundaries. One detail of
transformers: hidden_states[L] (after the last block) already has the final norm applied, so the
last block's hand output is compared after that norm.

`encoder_attention_trace` does the same for the attention sub-layer of a post-norm BERT encoder
(all-MiniLM-L6-v2): probs @ V per head, concatenation, the output dense layer, the residual and
LayerNorm, each checked against the model's own sub-layer outputs caught with forward hooks.

Shapes: T tokens, C model dim, H heads, H_kv key/value heads, D head dim, F MLP dim, L layers.
"""
from dataclasses import dataclass

import numpy as np

from core.transformer.positions import rms_norm, rope_rotate

MAX_TOKENS = 64


@dataclass(frozen=True)
class Stage:
    name: str  # the teaching name: 'input_layernorm', 'q_proj', 'residual add', ...
    module: str  # the transformers module that computes it ('' for plain arithmetic)
    formula: str
    value: np.ndarray  # (T, width)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def mean_norm(self) -> float:
        """Mean over tokens of the L2 norm of each token's vector."""
        return float(np.linalg.norm(self.value, axis=-1).mean())


@dataclass(frozen=True)
class BlockTrace:
    tokens: list[str]
    layer: int  # 0-based
    stages: list[Stage]  # the embedding, then the chosen block in order
    probs: np.ndarray  # (H, T, T) the block's attention probabilities
    residual_norms: np.ndarray  # (L + 1,) mean token norm of the residual stream at every block boundary
    max_diff_embedding: float  # |embedding row lookup - hidden_states[0]|
    max_diff_output: float  # |hand output - hidden_states[layer + 1]| (after the final norm for the last block)


def _np(t) -> np.ndarray:
    return t.detach().numpy().astype(np.float64)


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU / swish: x · sigmoid(x). silu(0) = 0; silu(x) -> x for large x."""
    return x / (1.0 + np.exp(-x))


def _block_stages(block, cfg, x: np.ndarray, layer: int) -> tuple[list[Stage], np.ndarray]:
    """Every stage of one Llama decoder block, float64: x (T, C) -> (stages, probs (H, T, T))."""
    T = x.shape[0]
    H, H_kv, D = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
    theta = cfg.rope_parameters["rope_theta"]
    attn, mlp = block.self_attn, block.mlp
    p = f"model.layers.{layer}"
    n1 = rms_norm(x, _np(block.input_layernorm.weight), block.input_layernorm.variance_epsilon)  # (T, C)
    q = n1 @ _np(attn.q_proj.weight).T  # (T, H·D)
    k = n1 @ _np(attn.k_proj.weight).T  # (T, H_kv·D)
    v = n1 @ _np(attn.v_proj.weight).T  # (T, H_kv·D)
    positions = np.arange(T)
    q_rot = rope_rotate(q.reshape(T, H, D).transpose(1, 0, 2), positions, theta)  # (H, T, D)
    k_rot = rope_rotate(k.reshape(T, H_kv, D).transpose(1, 0, 2), positions, theta)  # (H_kv, T, D)
    group = H // H_kv
    k_all = np.repeat(k_rot, group, axis=0)  # (H, T, D): repeat_kv
    v_all = np.repeat(v.reshape(T, H_kv, D).transpose(1, 0, 2), group, axis=0)  # (H, T, D)
    scores = q_rot @ k_all.transpose(0, 2, 1) / np.sqrt(D) + np.triu(np.full((T, T), -np.inf), k=1)  # (H, T, T)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    heads = (probs @ v_all).transpose(1, 0, 2).reshape(T, H * D)  # (H, T, D) -> (T, H·D)
    o = heads @ _np(attn.o_proj.weight).T  # (T, C)
    h = x + o
    n2 = rms_norm(h, _np(block.post_attention_layernorm.weight), block.post_attention_layernorm.variance_epsilon)
    gate = n2 @ _np(mlp.gate_proj.weight).T  # (T, F)
    up = n2 @ _np(mlp.up_proj.weight).T  # (T, F)
    act = silu(gate)
    down = (act * up) @ _np(mlp.down_proj.weight).T  # (T, F) @ (F, C) -> (T, C)
    out = h + down
    stages = [
        Stage("block input (residual stream)", "", "x", x),
        Stage("input_layernorm (RMSNorm)", f"{p}.input_layernorm", "x / rms(x) · g", n1),
        Stage("q_proj", f"{p}.self_attn.q_proj", "n1 W_Q", q),
        Stage("k_proj", f"{p}.self_attn.k_proj", "n1 W_K (H_kv heads)", k),
        Stage("v_proj", f"{p}.self_attn.v_proj", "n1 W_V (H_kv heads)", v),
        Stage("q after RoPE", "", "rotate each pair by t·θ_i", q_rot.transpose(1, 0, 2).reshape(T, H * D)),
        Stage("k after RoPE", "", "rotate each pair by t·θ_i", k_rot.transpose(1, 0, 2).reshape(T, H_kv * D)),
        Stage("attention output (heads concatenated)", "", "softmax(QKᵀ/√D + M) V", heads),
        Stage("o_proj", f"{p}.self_attn.o_proj", "heads W_O", o),
        Stage("residual add", "", "h = x + o_proj", h),
        Stage("post_attention_layernorm (RMSNorm)", f"{p}.post_attention_layernorm", "h / rms(h) · g", n2),
        Stage("gate_proj", f"{p}.mlp.gate_proj", "n2 W_gate", gate),
        Stage("up_proj", f"{p}.mlp.up_proj", "n2 W_up", up),
        Stage("SiLU(gate)", f"{p}.mlp.act_fn", "gate · σ(gate)", act),
        Stage("SiLU(gate) * up", "", "SwiGLU", act * up),
        Stage("down_proj", f"{p}.mlp.down_proj", "(SiLU(gate) * up) W_down", down),
        Stage("residual add (block output)", "", "h + down_proj", out),
    ]
    return stages, probs


def residual_stream(model, ids: list[int]) -> np.ndarray:
    """The residual stream at every block boundary, before any final norm: (L + 1, T, C), float64.

    Row 0 is the embedding, row l the output of block l. Each block's output is caught with a forward
    hook (removed in `finally`), because transformers' own hidden_states[L] has the final norm applied.
    """
    import torch

    outputs = []
    handles = [layer.register_forward_hook(lambda module, args, output: outputs.append(
        (output[0] if isinstance(output, tuple) else output)[0].detach())) for layer in model.model.layers]
    try:
        with torch.no_grad():
            first = model.model.embed_tokens(torch.tensor([ids]))[0]  # (T, C)
            model(torch.tensor([ids]))
    finally:
        for handle in handles:
            handle.remove()
    return np.stack([_np(first)] + [_np(o) for o in outputs])  # (L + 1, T, C)


def trace_block(model, tokenizer, prompt: str, layer: int = 0, max_tokens: int = MAX_TOKENS) -> BlockTrace:
    """Trace `prompt` (its first max_tokens tokens, at most MAX_TOKENS) through tiny-lm's block `layer`.

    The block starts from the model's own hidden_states[layer], so the check at its output measures
    this block's arithmetic alone (float32 model vs float64 by hand: ~1e-6).
    """
    import torch

    cfg = model.config
    L = cfg.num_hidden_layers
    if not 0 <= layer < L:
        raise ValueError(f"layer must be in 0..{L - 1}, got {layer}")
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"][: min(max_tokens, MAX_TOKENS)]
    if not ids:
        raise ValueError("the prompt has no tokens")
    with torch.no_grad():
        hidden = model(torch.tensor([ids]), output_hidden_states=True).hidden_states  # L + 1 × (1, T, C)
    embedding = Stage("token embedding", "model.embed_tokens", "E[token id]",
                      _np(model.model.embed_tokens.weight)[ids])  # (T, C): a row lookup
    block_input = _np(hidden[layer][0])  # (T, C)
    stages, probs = _block_stages(model.model.layers[layer], cfg, block_input, layer)
    out = stages[-1].value
    if layer == L - 1:  # transformers stores the last block's output after the final norm
        out = rms_norm(out, _np(model.model.norm.weight), model.model.norm.variance_epsilon)
    norms = np.linalg.norm(residual_stream(model, ids), axis=-1).mean(-1)  # (L + 1,)
    return BlockTrace([tokenizer.decode([i]) for i in ids], layer, [embedding] + stages, probs, norms,
                      float(np.abs(embedding.value - _np(hidden[0][0])).max()),
                      float(np.abs(out - _np(hidden[layer + 1][0])).max()))


# ---- the encoder's attention sub-layer ---------------------------------------------------------
@dataclass(frozen=True)
class EncoderAttentionTrace:
    tokens: list[str]
    layer: int
    probs: np.ndarray  # (H, T, T)
    head_outputs: np.ndarray  # (H, T, D) probs @ V
    concat: np.ndarray  # (T, C) the heads side by side
    dense: np.ndarray  # (T, C) concat W_O + b_O (attention.output.dense)
    sublayer: np.ndarray  # (T, C) LayerNorm(dense + input): the attention sub-layer's output
    diff_concat: float  # |concat - the model's attention.self output|
    diff_dense: float  # |dense - the model's attention.output.dense output|
    diff_sublayer: float  # |sublayer - the model's attention output|


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm (Ba et al. 2016, https://arxiv.org/abs/1607.06450): (x - mean) / √(var + eps) · g + b."""
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def encoder_attention_trace(model, tokenizer, text: str, layer: int = 0,
                            max_tokens: int = MAX_TOKENS) -> EncoderAttentionTrace:
    """Recompute BERT layer `layer`'s attention sub-layer from its weights; catch the model's own
    intermediate outputs with forward hooks (removed in `finally`) and compare."""
    import torch

    enc = model.encoder.layer[layer].attention
    caught = {}

    def keep(name):
        def hook(module, args, output):
            caught[name] = (output[0] if isinstance(output, tuple) else output)[0].detach().numpy()
        return hook

    handles = [enc.self.register_forward_hook(keep("self")), enc.output.dense.register_forward_hook(keep("dense")),
               enc.register_forward_hook(keep("attention"))]
    batch = tokenizer(text, truncation=True, max_length=min(max_tokens, MAX_TOKENS), return_tensors="pt")
    try:
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True)
    finally:
        for handle in handles:
            handle.remove()
    x = _np(out.hidden_states[layer][0])  # (T, C) the layer's input
    sa = enc.self
    H, D = sa.num_attention_heads, sa.attention_head_size
    T = x.shape[0]

    def project(linear) -> np.ndarray:  # (T, C) -> (H, T, D)
        return (x @ _np(linear.weight).T + _np(linear.bias)).reshape(T, H, D).transpose(1, 0, 2)

    q, k, v = project(sa.query), project(sa.key), project(sa.value)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)  # (H, T, T), no mask: one unpadded text
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    head_outputs = probs @ v  # (H, T, D)
    concat = head_outputs.transpose(1, 0, 2).reshape(T, H * D)  # (T, C)
    dense = concat @ _np(enc.output.dense.weight).T + _np(enc.output.dense.bias)
    ln = enc.output.LayerNorm
    sublayer = layer_norm(dense + x, _np(ln.weight), _np(ln.bias), ln.eps)
    ids = batch["input_ids"][0].tolist()
    return EncoderAttentionTrace(tokenizer.convert_ids_to_tokens(ids), layer, probs, head_outputs, concat, dense,
                                 sublayer, float(np.abs(concat - caught["self"]).max()),
                                 float(np.abs(dense - caught["dense"]).max()),
                                 float(np.abs(sublayer - caught["attention"]).max()))


# ---- the three families ----------------------------------------------------------------------
@dataclass(frozen=True)
class ArchitectureFamily:
    kind: str
    mask: str
    objective: str
    typical_uses: str
    examples: str


ARCHITECTURES = (
    ArchitectureFamily(
        "encoder-only", "none: every token sees every token (bidirectional)",
        "masked language modelling: predict ~15% hidden tokens from both sides",
        "classification, named entities, sentence embeddings, retrieval and reranking",
        "BERT (Devlin et al. 2018, arXiv 1810.04805), RoBERTa (arXiv 1907.11692), "
        "MiniLM (arXiv 2002.10957): this app's all-MiniLM-L6-v2"),
    ArchitectureFamily(
        "decoder-only", "causal: token t sees tokens 1..t",
        "next-token prediction (causal language modelling)",
        "text generation, chat, code, in-context learning",
        "GPT-2 (Radford et al. 2019), GPT-3 (arXiv 2005.14165), Llama (arXiv 2302.13971), "
        "Mistral (arXiv 2310.06825): this app's tiny-lm"),
    ArchitectureFamily(
        "encoder-decoder", "encoder none; decoder causal, plus cross-attention to every encoder token",
        "sequence to sequence: translation pairs, span corruption (T5), denoising (BART)",
        "translation, summarisation, speech recognition",
        "the original Transformer (arXiv 1706.03762), T5 (arXiv 1910.10683), BART (arXiv 1910.13461), "
        "Whisper (arXiv 2212.04356)"),
)


if __name__ == "__main__":
    from core.models import load_causal_lm, load_encoder

    model, tokenizer = load_causal_lm("tiny-lm")
    trace = trace_block(model, tokenizer, "And the LORD said unto Moses", layer=2)
    print(f"tiny-lm block {trace.layer}, {len(trace.tokens)} tokens")
    for stage in trace.stages:
        print(f"  {stage.name:40s} {stage.shape!s:10s} mean |token| {stage.mean_norm:8.3f}")
    print(f"  hand vs hidden_states: embedding {trace.max_diff_embedding:.1e}, "
          f"block output {trace.max_diff_output:.1e}")
    print("  residual stream norm per boundary:", np.round(trace.residual_norms, 2))
    encoder, enc_tok = load_encoder()
    et = encoder_attention_trace(encoder, enc_tok, "The cat sat on the mat.", layer=3)
    print(f"MiniLM layer {et.layer}: concat {et.diff_concat:.1e}, dense {et.diff_dense:.1e}, "
          f"sub-layer {et.diff_sublayer:.1e}")
    for family in ARCHITECTURES:
        print(f"{family.kind:16s} mask: {family.mask}")
