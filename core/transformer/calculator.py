"""How big is a transformer? Parameters, FLOPs and memory from its config alone.

Every number a model card quotes (7B parameters, 14 GB in BF16, 512 KiB of KV cache per token)
follows from a handful of config fields. With C model dim, H query heads, H_kv key/value heads,
D = head dim, F feed-forward dim, V vocabulary, L layers:

    attention (GQA)  C·H·D (q_proj) + 2·C·H_kv·D (k_proj, v_proj) + H·D·C (o_proj)   [+ biases]
    MLP              SwiGLU: 3·C·F (gate, up, down)   GELU MLP: 2·C·F (up, down)     [+ biases]
    norms            RMSNorm: C (a scale)   LayerNorm: 2·C (scale and shift)
    embeddings       V·C, plus T_max·C for a learned position table; lm_head V·C unless tied

Multi-query (H_kv = 1, Shazeer 2019, https://arxiv.org/abs/1911.02150) and grouped-query attention
(1 < H_kv < H, Ainslie et al. 2023, https://arxiv.org/abs/2305.13245) shrink k_proj and v_proj
and the KV cache, not q_proj or o_proj.

Compute per token (Kaplan et al. 2020, https://arxiv.org/abs/2001.08361, Table 1): a forward pass
costs one multiply and one add per weight of every matrix product, 2·N FLOPs, plus attention over
the context: for a causal T-token window each token sees T/2 keys on average, and QKᵀ and probs·V
each cost 2·(T/2)·H·D, so 2·L·T·H·D in all. Training (forward + backward, the backward costing twice
the forward) is 3× that: ≈ 6·N.

Memory: weights at 4 (FP32), 2 (BF16/FP16), 1 (INT8) or 0.5 (INT4) bytes per parameter (quantized
formats also store small per-block scales, not counted here). Mixed-precision training with Adam
(Micikevicius et al. 2017, https://arxiv.org/abs/1710.03740) keeps 16-bit weights and gradients,
an FP32 master copy and Adam's two FP32 states m and v: 2 + 2 + 4 + 4 + 4 = 16 bytes per parameter
(Rajbhandari et al. 2019, ZeRO, https://arxiv.org/abs/1910.02054, §3.1). Activations follow
Korthikanti et al. 2022 (https://arxiv.org/abs/2205.05198, §4.1): per layer s·b·C·(34 + 5·H·s/C)
bytes at 16 bits without recomputation (34·s·b·C with selective recomputation of attention, 2·s·b·C
with full recomputation), s sequence length, b batch; derived for a GPT-style block (MLP 4C, MHA), it
is an estimate for the others. The KV cache stores 2·L·H_kv·D values per token.
"""
from dataclasses import dataclass, replace

BYTES = {"FP32": 4.0, "BF16/FP16": 2.0, "INT8": 1.0, "INT4": 0.5}
OPTIMIZER_STATES = {"adam": 2, "sgd-momentum": 1, "sgd": 0}  # FP32 values kept per parameter
RECOMPUTE = ("none", "selective", "full")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    layers: int  # L
    d_model: int  # C
    heads: int  # H query heads
    kv_heads: int  # H_kv: = H for MHA, 1 for MQA, in between for GQA
    ffn_dim: int  # F
    vocab: int  # V
    context: int  # trained context length; the size of a learned position table
    ffn_type: str = "swiglu"  # "swiglu" (gate, up, down) | "gelu" (up, down)
    tied_embeddings: bool = False  # lm_head reuses the token embedding matrix
    norm: str = "rmsnorm"  # "rmsnorm" (scale) | "layernorm" (scale + shift)
    biases: str = "none"  # "none" | "qkv" (Qwen2) | "all" (every linear layer: GPT-2, BERT)
    positions: str = "rope"  # "rope" | "learned" (a T_max × C table) | "alibi" (no parameters)
    head_dim: int | None = None  # D; C // H when None
    norms_per_layer: int = 2  # 1 for Falcon's parallel attention + MLP block
    final_norm: bool = True  # pre-norm decoders end with one more norm; post-norm BERT does not
    decoder: bool = True  # False: an encoder, no lm_head
    token_types: int = 0  # BERT's segment embeddings
    embedding_norm: bool = False  # BERT normalises the summed embeddings
    pooler: bool = False  # BERT's [CLS] dense layer (C·C + C)
    published_params: float | None = None  # the figure the model card or paper gives
    source: str = ""  # where the config and the figure come from

    @property
    def D(self) -> int:
        return self.head_dim or self.d_model // self.heads

    @property
    def attention_kind(self) -> str:
        return "MHA" if self.kv_heads == self.heads else "MQA" if self.kv_heads == 1 else "GQA"


@dataclass(frozen=True)
class ParamBreakdown:
    embeddings: int  # token + position + segment embeddings (+ their norm)
    attention: int  # all layers
    mlp: int  # all layers
    norms: int  # per-layer norms + the final norm
    lm_head: int  # 0 when tied or for an encoder
    other: int  # BERT's pooler
    per_layer: int  # one block: attention + MLP + its norms

    @property
    def total(self) -> int:
        return self.embeddings + self.attention + self.mlp + self.norms + self.lm_head + self.other

    @property
    def non_embedding(self) -> int:
        """Kaplan et al.'s N: everything but the embedding tables (and the lm_head that mirrors them)."""
        return self.attention + self.mlp + self.norms + self.other


@dataclass(frozen=True)
class Flops:
    matmul_params: int  # weights of the matrix products each token goes through (lm_head counted even when tied)
    attention_per_token: float  # 2·L·T·H·D (causal), 4·L·T·H·D (encoder)
    forward_per_token: float  # 2·matmul_params + attention
    training_per_token: float  # 3 × forward

    @property
    def forward_2n(self) -> float:
        return 2.0 * self.matmul_params


@dataclass(frozen=True)
class MemoryEstimate:
    precision: str
    weights: float  # bytes
    gradients: float
    master_weights: float  # FP32 copy kept by mixed-precision training
    optimizer_states: float
    activations: float
    kv_cache: float

    @property
    def total(self) -> float:
        return (self.weights + self.gradients + self.master_weights + self.optimizer_states + self.activations
                + self.kv_cache)


def _linear(n_in: int, n_out: int, bias: bool) -> int:
    return n_in * n_out + (n_out if bias else 0)


def parameters(cfg: ModelConfig) -> ParamBreakdown:
    """Count every parameter. Llama-2-7B -> 6,738,415,616 (the Hub's 6.74B)."""
    C, D, H, H_kv, F = cfg.d_model, cfg.D, cfg.heads, cfg.kv_heads, cfg.ffn_dim
    norm = C * (2 if cfg.norm == "layernorm" else 1)
    qkv_bias = cfg.biases in ("qkv", "all")
    out_bias = cfg.biases == "all"
    attention = (_linear(C, H * D, qkv_bias) + 2 * _linear(C, H_kv * D, qkv_bias)  # q_proj, k_proj, v_proj
                 + _linear(H * D, C, out_bias))  # o_proj
    up = (2 if cfg.ffn_type == "swiglu" else 1) * _linear(C, F, out_bias)  # gate and up, or up alone
    mlp = up + _linear(F, C, out_bias)  # + down_proj
    per_layer = attention + mlp + cfg.norms_per_layer * norm
    embeddings = cfg.vocab * C + (cfg.context * C if cfg.positions == "learned" else 0) + cfg.token_types * C
    embeddings += norm if cfg.embedding_norm else 0
    lm_head = cfg.vocab * C if cfg.decoder and not cfg.tied_embeddings else 0
    return ParamBreakdown(
        embeddings=embeddings,
        attention=cfg.layers * attention,
        mlp=cfg.layers * mlp,
        norms=cfg.layers * cfg.norms_per_layer * norm + (norm if cfg.final_norm else 0),
        lm_head=lm_head,
        other=_linear(C, C, True) if cfg.pooler else 0,
        per_layer=per_layer,
    )


def flops_per_token(cfg: ModelConfig, T: int | None = None) -> Flops:
    """FLOPs to process one token with a context of T tokens (default: the trained context).

    Llama-2-7B at T = 4096: forward = 2 · 6.61e9 + 2 · 32 · 4096 · 4096 ≈ 14.3 GFLOPs per token, where 6.61e9
    are its weight matrices (the lm_head counted, the embedding table, a lookup, not). An encoder's tokens see
    all T keys: 4·L·T·H·D. Checked against torch.utils.flop_counter on tiny-lm and MiniLM.
    """
    T = cfg.context if T is None else T
    C, D = cfg.d_model, cfg.D
    # Weight matrices only: biases, norms and embedding lookups are additions or copies, O(N) and small.
    # The lm_head is a V × C product even when its weights are the embedding table. BERT's pooler runs
    # once per sequence, not per token.
    attention = 2 * C * cfg.heads * D + 2 * C * cfg.kv_heads * D  # q_proj, o_proj; k_proj, v_proj
    mlp = (3 if cfg.ffn_type == "swiglu" else 2) * C * cfg.ffn_dim
    per_layer = attention + mlp
    matmul = cfg.layers * per_layer + (cfg.vocab * C if cfg.decoder else 0)
    # A causal token sees T/2 keys on average, an encoder's token all T: QKᵀ and probs·V, 2 FLOPs each.
    keys_seen = T / 2 if cfg.decoder else T
    attention_flops = 2 * 2.0 * cfg.layers * keys_seen * cfg.heads * D
    forward = 2.0 * matmul + attention_flops
    return Flops(matmul, attention_flops, forward, 3.0 * forward)


def activation_bytes(cfg: ModelConfig, seq_len: int, batch: int = 1, recompute: str = "none",
                     precision: str = "BF16/FP16") -> float:
    """Korthikanti et al. 2022, §4.1: L · s·b·C·(34 + 5·H·s/C) bytes at 16 bits, without recomputation.

    selective: L · 34·s·b·C (the attention scores are recomputed); full: L · 2·s·b·C (only each layer's
    input is kept). 32-bit activations take twice the bytes.
    """
    if recompute not in RECOMPUTE:
        raise ValueError(f"recompute must be one of {RECOMPUTE}, got {recompute!r}")
    s, b, C, H = seq_len, batch, cfg.d_model, cfg.heads
    per_layer = {"none": s * b * C * (34 + 5 * H * s / C), "selective": 34 * s * b * C, "full": 2 * s * b * C}
    return cfg.layers * per_layer[recompute] * BYTES[precision] / 2


def kv_cache_bytes_per_token(cfg: ModelConfig, precision: str = "BF16/FP16") -> float:
    """2 (K and V) · L · H_kv · D · bytes: Llama-2-7B in BF16 -> 2·32·32·128·2 = 524,288 B (512 KiB)."""
    return 2 * cfg.layers * cfg.kv_heads * cfg.D * BYTES[precision]


def inference_memory(cfg: ModelConfig, precision: str = "BF16/FP16", batch: int = 1,
                     tokens: int | None = None, kv_precision: str | None = None) -> MemoryEstimate:
    """Weights plus the KV cache of `batch` sequences of `tokens` tokens (default: the full context)."""
    tokens = cfg.context if tokens is None else tokens
    weights = parameters(cfg).total * BYTES[precision]
    kv = batch * tokens * kv_cache_bytes_per_token(cfg, kv_precision or precision)
    return MemoryEstimate(precision, weights, 0.0, 0.0, 0.0, 0.0, kv)


def training_memory(cfg: ModelConfig, mixed_precision: bool = True, optimizer: str = "adam", batch: int = 1,
                    seq_len: int | None = None, recompute: str = "none") -> MemoryEstimate:
    """Weights, gradients, optimizer states and activations of one training step.

    Mixed precision: 16-bit weights and gradients + an FP32 master copy + FP32 optimizer states (Adam:
    m and v), 16 bytes per parameter with Adam. Without it everything is FP32: 4 + 4 + 8 = 16 as well.
    """
    if optimizer not in OPTIMIZER_STATES:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZER_STATES)}, got {optimizer!r}")
    n = parameters(cfg).total
    precision = "BF16/FP16" if mixed_precision else "FP32"
    width = BYTES[precision]
    return MemoryEstimate(
        precision=precision,
        weights=n * width,
        gradients=n * width,
        master_weights=n * 4.0 if mixed_precision else 0.0,
        optimizer_states=n * 4.0 * OPTIMIZER_STATES[optimizer],
        activations=activation_bytes(cfg, cfg.context if seq_len is None else seq_len, batch, recompute, precision),
        kv_cache=0.0,  # training runs whole sequences at once: no cache
    )


def weights_by_precision(cfg: ModelConfig) -> dict[str, float]:
    """Bytes of the weights alone at each precision: {'FP32': ..., 'BF16/FP16': ..., 'INT8': ..., 'INT4': ...}."""
    n = parameters(cfg).total
    return {name: n * width for name, width in BYTES.items()}


def config_from_hf(config, name: str = "model") -> ModelConfig:
    """A ModelConfig from a transformers config: Llama-style (LlamaConfig, Qwen2) or BERT-style (BertConfig)."""
    if config.model_type == "bert":
        return ModelConfig(name, config.num_hidden_layers, config.hidden_size, config.num_attention_heads,
                           config.num_attention_heads, config.intermediate_size, config.vocab_size,
                           config.max_position_embeddings, ffn_type="gelu", norm="layernorm", biases="all",
                           positions="learned", final_norm=False, decoder=False, token_types=config.type_vocab_size,
                           embedding_norm=True, pooler=True, source="its config.json")
    heads = config.num_attention_heads
    if getattr(config, "attention_bias", False):
        biases = "all"
    else:
        biases = "qkv" if config.model_type == "qwen2" else "none"
    return ModelConfig(name, config.num_hidden_layers, config.hidden_size, heads,
                       getattr(config, "num_key_value_heads", None) or heads, config.intermediate_size,
                       config.vocab_size, config.max_position_embeddings,
                       tied_embeddings=bool(getattr(config, "tie_word_embeddings", False)), biases=biases,
                       head_dim=getattr(config, "head_dim", None), source="its config.json")


# Configs from each model's config.json / paper; published_params from the source named.
_LLAMA = {"ffn_type": "swiglu", "norm": "rmsnorm", "positions": "rope"}
PRESETS: tuple[ModelConfig, ...] = (
    ModelConfig("Llama-2-7B", 32, 4096, 32, 32, 11008, 32000, 4096, **_LLAMA, published_params=6.74e9,
                source="Touvron et al. 2023, Llama 2 (https://arxiv.org/abs/2307.09288); meta-llama/Llama-2-7b-hf "
                       "config.json; 6.74B on its Hugging Face page"),
    ModelConfig("Llama-2-13B", 40, 5120, 40, 40, 13824, 32000, 4096, **_LLAMA, published_params=13.0e9,
                source="Touvron et al. 2023 (https://arxiv.org/abs/2307.09288); meta-llama/Llama-2-13b-hf "
                       "config.json; 13.0B on its Hugging Face page"),
    ModelConfig("Llama-2-70B", 80, 8192, 64, 8, 28672, 32000, 4096, **_LLAMA, published_params=69.0e9,
                source="Touvron et al. 2023, GQA with 8 KV heads (https://arxiv.org/abs/2307.09288); "
                       "meta-llama/Llama-2-70b-hf config.json; 69.0B on its Hugging Face page"),
    ModelConfig("Mistral-7B", 32, 4096, 32, 8, 14336, 32000, 8192, **_LLAMA, published_params=7.24e9,
                source="Jiang et al. 2023, Mistral 7B, Table 1 (https://arxiv.org/abs/2310.06825); "
                       "7.24B on the mistralai/Mistral-7B-v0.1 Hugging Face page"),
    ModelConfig("Llama-3-8B", 32, 4096, 32, 8, 14336, 128256, 8192, **_LLAMA, published_params=8.03e9,
                source="Llama 3 (Dubey et al. 2024, https://arxiv.org/abs/2407.21783, Table 3); "
                       "meta-llama/Meta-Llama-3-8B config.json (vocab 128,256); 8.03B on its Hugging Face page"),
    ModelConfig("TinyLlama-1.1B", 22, 2048, 32, 4, 5632, 32000, 2048, **_LLAMA, published_params=1.1e9,
                source="Zhang et al. 2024, TinyLlama, Table 1 (https://arxiv.org/abs/2401.02385)"),
    ModelConfig("Qwen2-0.5B", 24, 896, 14, 2, 4864, 151936, 32768, **_LLAMA, tied_embeddings=True, biases="qkv",
                published_params=0.49e9,
                source="Yang et al. 2024, Qwen2, Table 1: tied embeddings, q/k/v biases "
                       "(https://arxiv.org/abs/2407.10671); Qwen/Qwen2-0.5B config.json; 0.49B on its Hugging Face page"),
    ModelConfig("Falcon-7B", 32, 4544, 71, 1, 18176, 65024, 2048, ffn_type="gelu", norm="layernorm",
                positions="rope", norms_per_layer=1, published_params=7.2e9,
                source="Almazrouei et al. 2023, Falcon (https://arxiv.org/abs/2311.16867); tiiuae/falcon-7b "
                       "config.json: 71 heads of 64, multi-query (1 KV head), parallel attention + MLP under one "
                       "LayerNorm, no biases; 7.22B on its Hugging Face page, which counts the lm_head "
                       "(65,024 × 4,544) separately; transformers ties it to the embeddings (6.92B)"),
    ModelConfig("GPT-2 small", 12, 768, 12, 12, 3072, 50257, 1024, ffn_type="gelu", norm="layernorm", biases="all",
                positions="learned", tied_embeddings=True, published_params=124e6,
                source="Radford et al. 2019, GPT-2 (OpenAI report; its Table 2 says 117M); openai-community/gpt2 "
                       "config.json; 124M on its Hugging Face page"),
    ModelConfig("GPT-2 XL", 48, 1600, 25, 25, 6400, 50257, 1024, ffn_type="gelu", norm="layernorm", biases="all",
                positions="learned", tied_embeddings=True, published_params=1.56e9,
                source="Radford et al. 2019 (OpenAI report; Table 2: 1542M); openai-community/gpt2-xl config.json; "
                       "1.56B on its Hugging Face page"),
    ModelConfig("BERT-base", 12, 768, 12, 12, 3072, 30522, 512, ffn_type="gelu", norm="layernorm", biases="all",
                positions="learned", final_norm=False, decoder=False, token_types=2, embedding_norm=True, pooler=True,
                published_params=110e6,
                source="Devlin et al. 2018, BERT (https://arxiv.org/abs/1810.04805): L=12, H=768, A=12, 110M; "
                       "counts position + token-type embeddings, the embedding LayerNorm and the pooler"),
    ModelConfig("all-MiniLM-L6-v2", 6, 384, 12, 12, 1536, 30522, 512, ffn_type="gelu", norm="layernorm",
                biases="all", positions="learned", final_norm=False, decoder=False, token_types=2,
                embedding_norm=True, pooler=True, published_params=22.7e6,
                source="Wang et al. 2020, MiniLM (https://arxiv.org/abs/2002.10957); sentence-transformers/"
                       "all-MiniLM-L6-v2 config.json; 22.7M on its Hugging Face page (the bundled copy: 22,713,216)"),
)


def preset(name: str) -> ModelConfig:
    """The preset called `name`: preset('Mistral-7B').kv_heads -> 8."""
    for cfg in PRESETS:
        if cfg.name == name:
            return cfg
    raise KeyError(f"no preset {name!r}; choose from {[c.name for c in PRESETS]}")


def with_changes(cfg: ModelConfig, **changes) -> ModelConfig:
    """A variant for what-if questions: with_changes(preset('Llama-2-70B'), kv_heads=64) is its MHA twin."""
    return replace(cfg, name=changes.pop("name", f"{cfg.name} (modified)"), published_params=None, **changes)


def breakdown_rows(configs) -> list[dict]:
    """[{'model', 'part', 'params'}] for a stacked bar per model (core.charts.transformer_depth.param_breakdown_chart)."""
    rows = []
    for cfg in configs:
        p = parameters(cfg)
        for part, n in (("embeddings", p.embeddings), ("attention", p.attention), ("MLP", p.mlp), ("norms", p.norms),
                        ("lm_head", p.lm_head), ("pooler", p.other)):
            if n:
                rows.append({"model": cfg.name, "part": part, "params": n})
    return rows


def memory_rows(estimates: dict[str, MemoryEstimate]) -> list[dict]:
    """[{'setting', 'part', 'bytes'}] from {'setting label': MemoryEstimate}, for memory_chart."""
    parts = ("weights", "gradients", "master_weights", "optimizer_states", "activations", "kv_cache")
    return [{"setting": label, "part": part.replace("_", " "), "bytes": getattr(est, part)}
            for label, est in estimates.items() for part in parts if getattr(est, part)]


def human(n: float, unit: str = "") -> str:
    """1.5e9 -> '1.50 G'; binary units for bytes: human(2**31, 'B') -> '2.00 GiB'."""
    if unit == "B":
        for prefix, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if abs(n) >= size:
                return f"{n / size:.2f} {prefix}"
        return f"{n:.0f} B"
    for prefix, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f} {prefix}{unit}"
    return f"{n:.0f} {unit}".strip()


if __name__ == "__main__":
    print(f"{'model':18s} {'kind':4s} {'computed':>15s} {'published':>10s} {'diff':>7s} {'fwd FLOPs/tok':>14s} "
          f"{'BF16 weights':>13s} {'KV/token':>10s}")
    for cfg in PRESETS:
        n = parameters(cfg).total
        diff = (n - cfg.published_params) / cfg.published_params
        print(f"{cfg.name:18s} {cfg.attention_kind:4s} {n:15,d} {human(cfg.published_params):>10s} {diff:+7.2%} "
              f"{human(flops_per_token(cfg).forward_per_token):>14s} "
              f"{human(weights_by_precision(cfg)['BF16/FP16'], 'B'):>13s} "
              f"{human(kv_cache_bytes_per_token(cfg), 'B') if cfg.decoder else '(encoder)':>10s}")
    train = training_memory(preset("Llama-2-7B"), seq_len=4096, recompute="selective")
    print(f"Llama-2-7B training, batch 1 × 4096 tokens, Adam, mixed precision, selective recomputation: "
          f"{human(train.total, 'B')} (activations {human(train.activations, 'B')})")
