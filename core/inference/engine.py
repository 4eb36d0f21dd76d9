"""Our own decode path for the bundled Llama models: Hugging Face's weights, a fraction of the work per token.

Why: tiny-lm has 3.15M parameters, so one token is ~6 MFLOP, microseconds of arithmetic. What `model.generate`
spends its time on is everything else: about 1,300 ATen operations per token (nested ones counted; the engine:
about 560), each crossing Python, the dispatcher and an allocator, plus a cache object that grows by
concatenation, mask building and logits processing at every step. This engine does the same arithmetic with as
few operations per token as it can:

- fused projections: q, k and v come out of ONE matmul (W_qkv = [W_q; W_k; W_v]), gate and up out of another,
  weights concatenated once when the engine is built;
- RMSNorm's gain folded into the matmul that follows it (fold_norm), so a norm is x / sqrt(sum(x^2) + C eps);
- residual adds fused into the output matmuls: x + y @ W_o is one `addmm`;
- RoPE as one complex multiplication: Hugging Face rotates the two halves of each head
  (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin), which is (x1 + i x2) * e^{i theta}. Reordering the rows of
  W_q and W_k so that x1[j], x2[j] sit side by side turns each head into D/2 complex numbers, and the rotation
  into a single `mul` by a precomputed table. q . k is unchanged: both are reordered the same way;
- a preallocated KV cache per layer, (B_max, H_kv, T_max, D), written in place at the current position
  (nothing grows, nothing is concatenated);
- everything that does not depend on the new token (rotation tables per row, masks, views of the cache)
  is computed once per `generate` call, not per step;
- `torch.inference_mode`, and sampling that does exactly what transformers does (the same logits warpers
  in the same order, then one `torch.multinomial`), so a seeded run draws the same tokens.

Shapes: B batch, T tokens, L layers, H query heads, H_kv key/value heads (grouped-query attention: each
key/value head serves H / H_kv query heads), D head dim, C model dim, F MLP width, V vocab.
Batches of prompts of different lengths are left-padded as `generate` does (see core.inference.batching).

Papers: Llama (RMSNorm, SwiGLU, RoPE), https://arxiv.org/abs/2302.13971 ; RoFormer (RoPE as a complex
rotation), https://arxiv.org/abs/2104.09864 ; GQA, https://arxiv.org/abs/2305.13245 ; the layout follows
llama2.c (https://github.com/karpathy/llama2.c) and gpt-fast (https://github.com/pytorch-labs/gpt-fast).
"""
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F

DYNAMIC_ROPE = ("dynamic", "longrope")  # rotation tables that change with the sequence length: not supported


@dataclass(frozen=True)
class EngineConfig:
    n_layer: int  # L
    n_head: int  # H
    n_kv_head: int  # H_kv
    head_dim: int  # D
    n_embd: int  # C
    n_inter: int  # F
    vocab_size: int  # V
    max_positions: int  # the most tokens (prompt + new) one sequence may hold
    eps: float  # RMSNorm epsilon

    @classmethod
    def from_hf(cls, config) -> "EngineConfig":
        """Read a transformers LlamaConfig; refuse what this engine does not implement, with the reason."""
        if config.model_type != "llama":
            raise ValueError(f"the engine implements Llama; got model_type {config.model_type!r}")
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            raise ValueError("the engine implements Llama without biases")
        if config.hidden_act != "silu":
            raise ValueError(f"the engine implements SwiGLU (silu); got {config.hidden_act!r}")
        rope = getattr(config, "rope_parameters", None) or {}
        if rope.get("rope_type", "default") in DYNAMIC_ROPE:
            raise ValueError(f"RoPE type {rope['rope_type']!r} rescales with the sequence length; not implemented")
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return cls(config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads, head_dim,
                   config.hidden_size, config.intermediate_size, config.vocab_size,
                   config.max_position_embeddings, config.rms_norm_eps)


@dataclass(frozen=True)
class Sampling:
    """How the next token is picked. The defaults are transformers' own (temperature 1, top-k 50, top-p 1),
    so Sampling(do_sample=True) picks what model.generate(do_sample=True) picks."""
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50  # 0 turns top-k off
    top_p: float = 1.0

    def __post_init__(self):
        if self.do_sample and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 when sampling; got {self.temperature} (use greedy instead)")
        if self.top_k < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need top_k >= 0 and 0 < top_p <= 1; got top_k={self.top_k}, top_p={self.top_p}")


GREEDY = Sampling()


def warp_logits(scores: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    """(B, V) logits -> (B, V) logits with the filtered tokens at -inf; transformers' warpers, same order, same ops.

    Temperature first, then top-k, then top-p (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper):
    warp_logits(tensor([[2., 1., 0.]]), Sampling(True, top_k=2)) -> [[2., 1., -inf]].
    """
    if sampling.temperature != 1.0:
        scores = scores / sampling.temperature
    if sampling.top_k:
        kth_best = torch.topk(scores, min(sampling.top_k, scores.size(-1)))[0][..., -1, None]  # (B, 1)
        scores = scores.masked_fill(scores < kth_best, -float("inf"))
    if sampling.top_p < 1.0:
        sorted_logits, sorted_idx = torch.sort(scores, descending=False)  # (B, V) ascending, as transformers does
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= 1 - sampling.top_p  # the low tail holding at most 1 - top_p of the mass
        sorted_remove[..., -1:] = False  # always keep the most likely token
        scores = scores.masked_fill(sorted_remove.scatter(1, sorted_idx, sorted_remove), -float("inf"))
    return scores


def interleave_rope_rows(w: torch.Tensor, n_heads: int, head_dim: int) -> torch.Tensor:
    """Reorder the output rows of a q or k projection, per head, from halves [x1 | x2] to pairs [x1_0, x2_0, x1_1, ...].

    (n_heads * D, C) -> (n_heads * D, C). For D = 4 the rows of a head go 0, 2, 1, 3.
    """
    half = head_dim // 2
    order = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()  # (D,)
    return w.view(n_heads, head_dim, -1)[:, order].reshape(n_heads * head_dim, -1)


def rope_table(inv_freq: torch.Tensor, attention_scaling: float, n_positions: int) -> torch.Tensor:
    """(D/2,) inverse frequencies -> (n_positions, D/2) complex rotations scaling * e^{i * position * inv_freq}.

    position * inv_freq is computed as Hugging Face computes it (float32, one product), so the angles match bit for bit.
    """
    angles = torch.arange(n_positions, dtype=torch.float32)[:, None] * inv_freq.float()[None, :]  # (T_max, D/2)
    return torch.polar(torch.full_like(angles, float(attention_scaling)), angles)


@dataclass(frozen=True)
class Layer:
    w_qkv: torch.Tensor  # (C, (H + 2 H_kv) D): input-major for x @ W; norm weight folded in, q/k rows interleaved
    w_o: torch.Tensor  # (H D, C)
    w_gate_up: torch.Tensor  # (C, 2F): norm weight folded in
    w_down: torch.Tensor  # (F, C)


def fold_norm(norm_weight: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """RMSNorm's gain g (and its sqrt(C)), then a projection W (C_out, C_in), as one input-major matrix.

    RMSNorm(x) @ W.T = (x / sqrt(mean(x^2) + eps) * g) @ W.T = (x / sqrt(sum(x^2) + C eps)) @ (W * g * sqrt(C)).T,
    so per token only x / sqrt(sum(x^2) + C eps) is left to compute (Engine._norm).
    (C_in,), (C_out, C_in) -> (C_in, C_out) contiguous float32.
    """
    C = norm_weight.numel()
    return (w.detach().float() * norm_weight.detach().float()[None, :] * C ** 0.5).t().contiguous()


def fuse_layer(hf_layer, cfg: EngineConfig) -> Layer:
    """Copy one Hugging Face LlamaDecoderLayer's weights into the fused layout (the model itself is not touched)."""
    attn, mlp = hf_layer.self_attn, hf_layer.mlp
    w_q = interleave_rope_rows(attn.q_proj.weight, cfg.n_head, cfg.head_dim)  # (H D, C)
    w_k = interleave_rope_rows(attn.k_proj.weight, cfg.n_kv_head, cfg.head_dim)  # (H_kv D, C)
    w_qkv = torch.cat([w_q, w_k, attn.v_proj.weight], dim=0)  # ((H + 2 H_kv) D, C)
    w_gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight], dim=0)  # (2F, C)
    return Layer(fold_norm(hf_layer.input_layernorm.weight, w_qkv), attn.o_proj.weight.detach().float().t().contiguous(),
                 fold_norm(hf_layer.post_attention_layernorm.weight, w_gate_up),
                 mlp.down_proj.weight.detach().float().t().contiguous())


class Engine:
    """A Llama decoder with fused weights and a preallocated KV cache, built from a Hugging Face model.

    Usage: Engine(model).generate(input_ids, max_new_tokens=64) -> the (B, T + 64) ids model.generate returns.
    The engine owns copies of the weights (the model is never mutated) and one KV cache that every call
    reuses: one engine runs one generation at a time (the compute lock serialises them in the app).
    `threads`: torch threads while the engine runs (restored after). One is the default because a decode
    step of a model this small is ~560 tiny operations, and splitting each across cores costs a thread
    hand-off per operation; on a busy machine a second thread waiting for a core stalls every one of them.
    """

    def __init__(self, model, max_batch: int = 4, max_positions: int | None = None, threads: int | None = 1):
        cfg = EngineConfig.from_hf(model.config)
        self.cfg, self.max_batch, self.threads = cfg, max_batch, threads
        self.max_positions = min(max_positions or cfg.max_positions, cfg.max_positions)
        lm = model.model
        self.wte = lm.embed_tokens.weight.detach().float().clone()  # (V, C)
        self.layers = [fuse_layer(layer, cfg) for layer in lm.layers]
        self.w_lm = fold_norm(lm.norm.weight, model.lm_head.weight)  # (C, V), final norm's gain folded in
        rotary = lm.rotary_emb
        self.rope = rope_table(rotary.inv_freq, rotary.attention_scaling, self.max_positions)  # (T_max, D/2) complex
        gen = model.generation_config
        eos = gen.eos_token_id
        self.eos_token_ids = tuple(eos) if isinstance(eos, (list, tuple)) else (() if eos is None else (eos,))
        self.pad_token_id = gen.pad_token_id if gen.pad_token_id is not None else (self.eos_token_ids or (0,))[0]
        self.c_eps = torch.tensor(cfg.n_embd * cfg.eps)  # a tensor: adding a Python float converts it every call
        shape = (max_batch, cfg.n_kv_head, self.max_positions, cfg.head_dim)  # (B_max, H_kv, T_max, D)
        self.k_cache = [torch.zeros(shape) for _ in range(cfg.n_layer)]
        self.v_cache = [torch.zeros(shape) for _ in range(cfg.n_layer)]
        # per batch size B, each layer's (k, v) views of the first B rows: sliced once here, not at every step
        self._cache_rows = {B: [(k[:B], v[:B]) for k, v in zip(self.k_cache, self.v_cache)]
                            for B in range(1, max_batch + 1)}

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        """RMSNorm without its gain and sqrt(C) (both folded into the next matmul): (N, C) -> (N, C).

        x / sqrt(sum(x^2) + C eps): six small operations where x.pow(2).mean() + eps takes eighteen (mean and a
        Python float each add conversions), and each costs microseconds of dispatch on a vector of 192 numbers.
        """
        return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + self.c_eps)

    # ---- one forward pass over new tokens, writing their keys and values into the cache --------------------
    def _forward(self, ids: torch.Tensor, pos: int, freqs: torch.Tensor, mask: torch.Tensor | None,
                 causal: bool, last_only: bool) -> torch.Tensor:
        """ids (B, T) at cache positions pos .. pos+T-1 -> logits (B, V) of the last position, or (B, T, V).

        freqs (B T, 1, D/2): each row's rotation; mask: None, or bool (B or 1, 1, T, pos+T), True = may attend;
        causal: no mask and T > 1 from position 0 (SDPA's own causal mask).
        """
        cfg = self.cfg
        B, T = ids.shape
        H, H_kv, D = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        n_qk = (H + H_kv) * D
        x = F.embedding(ids.view(B * T), self.wte)  # (B T, C)
        for layer, (k_cache, v_cache) in zip(self.layers, self._cache_rows[B]):  # (B, H_kv, T_max, D) each
            qkv = torch.mm(self._norm(x), layer.w_qkv)  # (B T, (H + 2 H_kv) D)
            qk = torch.view_as_complex(qkv[:, :n_qk].view(B * T, H + H_kv, D // 2, 2))  # (B T, H + H_kv, D/2)
            qk = torch.view_as_real(qk * freqs).view(B, T, H + H_kv, D)  # RoPE on q and k in one multiply
            k_cache[:, :, pos:pos + T] = qk[:, :, H:].transpose(1, 2)  # (B, H_kv, T, D) into the cache
            v_cache[:, :, pos:pos + T] = qkv[:, n_qk:].view(B, T, H_kv, D).transpose(1, 2)
            q = qk[:, :, :H].transpose(1, 2)  # (B, H, T, D)
            k, v = k_cache[:, :, :pos + T], v_cache[:, :, :pos + T]  # (B, H_kv, pos+T, D): all keys so far
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, enable_gqa=True)  # (B, H, T, D)
            x = torch.addmm(x, y.transpose(1, 2).reshape(B * T, H * D), layer.w_o)  # (B T, C): x + y @ W_o
            gate_up = torch.mm(self._norm(x), layer.w_gate_up)  # (B T, 2F)
            x = torch.addmm(x, F.silu(gate_up[:, :cfg.n_inter]) * gate_up[:, cfg.n_inter:], layer.w_down)  # SwiGLU
        if last_only:
            x = x.view(B, T, -1)[:, -1]  # (B, C): only the next token's logits are needed
        logits = torch.mm(self._norm(x), self.w_lm)  # (B, V) or (B T, V)
        return logits if last_only else logits.view(B, T, -1)

    def _plan(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, total: int):
        """What one call needs that does not depend on generated tokens, for `total` positions.

        -> freqs (total, B, 1, D/2) complex: each row's rotation at each cache position;
           keys (B, 1, 1, total) bool, True on real tokens, or None without padding;
           prefill mask (B, 1, T, T) bool (causal, real keys only; a pad query sees itself) or None.
        """
        B, T = input_ids.shape
        if attention_mask is None or bool(attention_mask.all()):
            return self.rope[:total, None, None].expand(total, B, 1, -1), None, None
        real = attention_mask.bool()  # (B, T)
        pad = T - real.sum(-1)  # (B,) left padding of each row
        if not torch.equal(real, torch.arange(T)[None, :] >= pad[:, None]):
            raise ValueError("attention_mask must be left padding (zeros, then ones), as generate uses")
        positions = (torch.arange(total)[None, :] - pad[:, None]).clamp(min=0)  # (B, total): each row counts from 0
        keys = torch.cat([real, real.new_ones(B, total - T)], dim=1)[:, None, None, :]  # (B, 1, 1, total)
        causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T)
        prefill = (causal & keys[..., :T]) | torch.eye(T, dtype=torch.bool)  # (B, 1, T, T): no row attends to nothing
        return self.rope[positions.T].unsqueeze(2), keys, prefill

    def _check(self, B: int, total: int) -> None:
        if not 1 <= B <= self.max_batch:
            raise ValueError(f"batch of {B}; this engine holds 1 to {self.max_batch} sequences (max_batch)")
        if total > self.max_positions:
            raise ValueError(f"{total} positions asked (prompt + new tokens); this engine holds at most "
                             f"{self.max_positions} (the model's max_position_embeddings)")

    @contextmanager
    def _running(self):
        """inference_mode, and the engine's thread count for the duration (restored after)."""
        threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(threads)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) ids -> (B, T, V) logits: model(input_ids, attention_mask=...).logits, at real tokens."""
        B, T = input_ids.shape
        self._check(B, T)
        with self._running():
            freqs, _, prefill = self._plan(input_ids, attention_mask, T)
            return self._forward(input_ids, 0, freqs.transpose(0, 1).reshape(B * T, 1, -1), prefill,
                                 prefill is None and T > 1, False)

    def extend(self, ids: torch.Tensor, pos: int) -> torch.Tensor:
        """Batch 1: (1, T) new ids at positions pos .. pos+T-1 after a cached prefix -> (1, T, V) logits.

        The cache keeps positions < pos as they are and is overwritten from pos on: going back (dropping
        rejected draft tokens in speculative decoding) is just calling extend at an earlier pos.
        """
        T = ids.size(1)
        self._check(ids.size(0), pos + T)
        if ids.size(0) != 1:
            raise ValueError("extend runs one sequence (batch 1)")
        with self._running():
            mask = None
            if T > 1 and pos > 0:  # query i sees keys 0 .. pos + i (SDPA's is_causal would align them at 0)
                mask = torch.ones(T, pos + T, dtype=torch.bool).tril(diagonal=pos)[None, None]  # (1, 1, T, pos+T)
            return self._forward(ids, pos, self.rope[pos:pos + T, None], mask, pos == 0 and T > 1, False)

    def generate(self, input_ids: torch.Tensor, max_new_tokens: int, attention_mask: torch.Tensor | None = None,
                 sampling: Sampling = GREEDY, seed: int | None = None, stop_at_eos: bool = True) -> torch.Tensor:
        """(B, T) prompt ids -> (B, T + n) ids, n <= max_new_tokens: what model.generate returns with the same arguments.

        Greedy by default; with Sampling(do_sample=True, ...) and seed s it draws what torch.manual_seed(s);
        model.generate(do_sample=True, ...) draws (seed None: the global RNG, as generate uses). A row that
        emits end-of-text is padded after it; generation stops when every row has (unless stop_at_eos is False,
        which is generate(..., eos_token_id=None)).
        """
        B, T = input_ids.shape
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1; got {max_new_tokens}")
        total = T + max_new_tokens
        self._check(B, total)
        generator = None if seed is None else torch.Generator().manual_seed(seed)
        eos = self.eos_token_ids if stop_at_eos else ()
        with self._running():
            freqs, keys, prefill = self._plan(input_ids, attention_mask, total)  # (total, B, 1, D/2), masks
            unfinished = torch.ones(B, dtype=torch.bool)
            new_ids = []  # B-long tensors, one per step
            logits = self._forward(input_ids, 0, freqs[:T].transpose(0, 1).reshape(B * T, 1, -1), prefill,
                                   prefill is None and T > 1, True)  # (B, V)
            for pos in range(T, total):
                if sampling.do_sample:
                    probs = F.softmax(warp_logits(logits, sampling), dim=-1)  # (B, V)
                    next_ids = torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1)  # (B,)
                else:
                    next_ids = torch.argmax(logits, dim=-1)  # (B,)
                new_ids.append(next_ids)
                if eos:
                    if B == 1:  # one row: a plain comparison, no masks
                        if next_ids.item() in eos:
                            break
                    else:
                        new_ids[-1] = next_ids = torch.where(unfinished, next_ids, self.pad_token_id)  # pad finished
                        unfinished &= ~torch.isin(next_ids, torch.tensor(eos))
                        if not unfinished.any():
                            break
                if pos == total - 1:
                    break
                mask = None if keys is None else keys[..., :pos + 1]  # (B, 1, 1, pos+1)
                logits = self._forward(next_ids[:, None], pos, freqs[pos], mask, False, True)  # (B, V)
            return torch.cat([input_ids, torch.stack(new_ids, dim=1)], dim=1)  # (B, T + n)

    def generate_without_cache(self, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """The KV cache's foil, batch 1, greedy, no end-of-text stop: every step recomputes keys and values of the
        whole text from position 0 (T + t tokens at step t) where generate computes one token's. Same tokens.
        """
        B, T = input_ids.shape
        if B != 1 or max_new_tokens < 1:
            raise ValueError("generate_without_cache runs one sequence (batch 1) for at least one new token")
        self._check(B, T + max_new_tokens)
        ids = input_ids
        with self._running():
            for _ in range(max_new_tokens):
                n = ids.size(1)
                logits = self._forward(ids, 0, self.rope[:n, None], None, n > 1, True)  # (1, V) from all n tokens
                ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)  # (1, n + 1)
        return ids


_ENGINES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> its Engine (batch 1)
_ENGINES_LOCK = threading.Lock()


def engine_for(model) -> "Engine | None":
    """The batch-1 Engine of a Hugging Face model, built once per model object and kept while the model lives;
    None for a model the engine does not implement (not a Llama, a PEFT wrapper, biases, dynamic RoPE).

    For models whose weights do not change after loading (the registry's): the engine holds its own copy.
    An engine runs one generation at a time; the app's compute lock serialises callers."""
    if getattr(model, "config", None) is None or type(model).__name__ != "LlamaForCausalLM":
        return None
    with _ENGINES_LOCK:
        engine = _ENGINES.get(model)
        if engine is None:
            try:
                engine = Engine(model, max_batch=1)
            except ValueError:
                return None
            _ENGINES[model] = engine
        return engine


if __name__ == "__main__":
    import time

    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    model, tokenizer = load_causal_lm("tiny-lm")
    engine = Engine(model)
    ids = tokenizer("And the LORD said unto Moses,", return_tensors="pt").input_ids
    for name, run in (("model.generate", lambda: model.generate(ids, max_new_tokens=128, do_sample=False,
                                                                 eos_token_id=None)),
                      ("engine", lambda: engine.generate(ids, 128, stop_at_eos=False))):
        run()  # warm-up
        start = time.perf_counter()
        out = run()
        print(f"{name:15s} {128 / (time.perf_counter() - start):6.0f} tokens/s  {tokenizer.decode(out[0, -24:])!r}")
    sampled = engine.generate(ids, 48, sampling=Sampling(True, temperature=0.8, top_p=0.9), seed=0)
    print("sampled (seed 0):", tokenizer.decode(sampled[0]))
