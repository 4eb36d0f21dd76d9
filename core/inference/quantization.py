"""Quantization of a whole model, measured: FP32, BF16, INT8 and 4-bit side by side on tiny-lm.

A weight stored in fewer bits is a smaller file and fewer bytes to read per token, at the price of a
rounding error. This module builds each variant with the library that really does it, and gives:

- size: bytes of the weights as each format holds them (packed codes + their scales),
- the timed greedy loop and the agreement scores that core.inference.quant_measure uses to measure
  latency and quality side by side,
- where the error comes from: each format simulated on each Linear weight (checked equal to what
  bitsandbytes stores), its relative weight error and the error of the layer's output.

The variants (VARIANTS): every Linear inside the 6 decoder blocks (42 matrices, 2.36M weights) is
quantized; the tied embedding / lm_head matrix (4096 x 192 = 0.79M weights) and the RMSNorm
weights stay FP32 in every variant, as bitsandbytes does by default.

Papers: LLM.int8() (Dettmers et al. 2022, https://arxiv.org/abs/2208.07339), QLoRA / NF4 (Dettmers et
al. 2023, https://arxiv.org/abs/2305.14314). GPTQ- and AWQ-style methods are in core.inference.quant_methods.
"""
import copy
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from functools import lru_cache

import torch

from core.inference.quant_formats import FORMATS, fake_quantize

VARIANTS = {
    "FP32": "32-bit floats, the reference",
    "BF16": "bfloat16: 8-bit exponent, 7-bit mantissa (model.to(torch.bfloat16))",
    "INT8 dynamic": "torch quantize_dynamic: int8 weights per output channel, activations quantized at every "
                    "call, int8 GEMM (fbgemm)",
    "LLM.int8": "bitsandbytes LLM.int8(): int8 weights per row + outlier features (|x| > 6) kept in 16-bit",
    "NF4": "bitsandbytes 4-bit NormalFloat, two weights per byte, one absmax per block of 64 weights (QLoRA)",
    "FP4": "bitsandbytes 4-bit float (sign, 2 exponent bits, 1 mantissa bit), same packing and blocks",
}
DEFAULT_PROMPTS = (
    "And the LORD said unto Moses,",
    "In the beginning",
    "Blessed are the",
    "And it came to pass, when",
    "The LORD is my shepherd;",
    "Then Jesus said unto them,",
    "And God said, Let",
    "Hear, O Israel:",
)


# ---- data: held-out tokens and the inputs each Linear sees ----------------------------------------
@lru_cache(maxsize=8)
def encode_corpus(key: str = "tiny-lm", split: str = "heldout", max_tokens: int = 4096) -> torch.Tensor:
    """The first `max_tokens` of scripts/build_assets.py's `encode_split` stream (each verse, then
    end-of-text), encoding only as many verses as needed -> (T,) long."""
    from transformers import AutoTokenizer

    from core.models import model_path
    from core.pretraining.data import corpus_text

    tokenizer = AutoTokenizer.from_pretrained(model_path(key))
    ids = []
    for line in corpus_text(split).splitlines():
        ids.extend(tokenizer.encode(line))
        ids.append(tokenizer.eos_token_id)
        if len(ids) >= max_tokens:
            break
    return torch.tensor(ids[:max_tokens], dtype=torch.long)


def decoder_linears(model) -> list[str]:
    """Names of the Linear layers inside the decoder blocks, quantized or not:
    ['model.layers.0.self_attn.q_proj', ..., 'model.layers.5.mlp.down_proj'] (42 for tiny-lm)."""
    return [name for name, module in model.named_modules()
            if ".layers." in name and hasattr(module, "in_features") and linear_bytes(module) is not None]


@torch.no_grad()
def capture_inputs(model, ids: torch.Tensor, names: list[str], seq_len: int = 128) -> dict[str, torch.Tensor]:
    """The input activations X (N, I) of each named Linear while the model reads `ids` in windows."""
    captured = {name: [] for name in names}
    hooks = [model.get_submodule(name).register_forward_hook(
        lambda module, args, output, name=name: captured[name].append(args[0].reshape(-1, args[0].shape[-1]).float()))
        for name in names]
    try:
        for start in range(0, len(ids), seq_len):
            model(input_ids=ids[start : start + seq_len].unsqueeze(0))
    finally:
        for hook in hooks:
            hook.remove()
    return {name: torch.cat(chunks) for name, chunks in captured.items()}  # each (N, I)


@dataclass(frozen=True)
class LayerError:
    layer: str  # 'model.layers.3.mlp.up_proj'
    fmt: str
    weight_error: float  # ‖W − Ŵ‖_F / ‖W‖_F
    output_error: float  # ‖XWᵀ − XŴᵀ‖_F / ‖XWᵀ‖_F on held-out activations X


def layer_errors(model, ids: torch.Tensor, formats: tuple = FORMATS) -> list[LayerError]:
    """Weight and output error of every decoder Linear in every format (weights only, activations FP32)."""
    from core.inference.quant_methods import relative_error

    names = decoder_linears(model)
    inputs = capture_inputs(model, ids, names)
    rows = []
    for name in names:
        W = model.get_submodule(name).weight.detach().float()  # (O, I)
        X = inputs[name]  # (N, I)
        exact = X @ W.T  # (N, O)
        for fmt in formats:
            W_hat = fake_quantize(W, fmt)
            rows.append(LayerError(name, fmt, relative_error(W, W_hat), relative_error(exact, X @ W_hat.T)))
    return rows


# ---- the variants, built by the libraries that really do it --------------------------------------
def build_variant(name: str, key: str = "tiny-lm", base=None):
    """A fresh model of variant `name` (see VARIANTS); `base` is the FP32 model, never modified."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from core.models import load_causal_lm, model_path

    if base is None:
        base, _ = load_causal_lm(key)
    if name == "FP32":
        return copy.deepcopy(base)
    if name == "BF16":
        return copy.deepcopy(base).to(torch.bfloat16)
    if name == "INT8 dynamic":
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # torch.ao is deprecated in favour of torchao; it still works here
            warnings.simplefilter("ignore")
            return quantize_dynamic(copy.deepcopy(base), {"model.layers": per_channel_dynamic_qconfig},
                                    dtype=torch.qint8)
    # No double quantization: it saves ~0.37 bit per weight in a big model, but costs a 1 KB table per layer
    # (more than it saves on matrices this small), and bitsandbytes' CPU kernel undoes it at the first call.
    four_bit = dict(load_in_4bit=True, bnb_4bit_compute_dtype=torch.float32)
    configs = {
        "LLM.int8": BitsAndBytesConfig(load_in_8bit=True),
        "NF4": BitsAndBytesConfig(bnb_4bit_quant_type="nf4", **four_bit),
        "FP4": BitsAndBytesConfig(bnb_4bit_quant_type="fp4", **four_bit),
    }
    if name not in configs:
        raise ValueError(f"unknown variant {name!r}; choose from {list(VARIANTS)}")
    # LLM.int8 logs "inputs will be cast to float16" on every forward pass: expected (it computes the
    # int8 matmul from FP16 activations), and thousands of identical lines would drown everything else.
    logging.getLogger("bitsandbytes.autograd._functions").setLevel(logging.ERROR)
    # dtype=float32: what bitsandbytes leaves unquantized (embeddings, norms) stays FP32 like the reference.
    from core.models import loading

    with loading():  # from_pretrained changes process-wide torch state: never beside another thread's work
        model = AutoModelForCausalLM.from_pretrained(model_path(key), quantization_config=configs[name],
                                                     dtype=torch.float32)
    return model.eval()


def bnb_4bit_cpu_path() -> str:
    """How bitsandbytes multiplies by 4-bit weights on this CPU (its own dispatch rule, bnb 0.50)."""
    from bitsandbytes.functional import has_avx512bf16

    if has_avx512bf16():
        return ("this CPU has AVX512-BF16, so bitsandbytes runs its fused 4-bit kernel: codes are decoded inside the "
                "matrix product, with activations and absmaxes in BF16")
    return ("this CPU lacks AVX512-BF16, so bitsandbytes decodes each 4-bit matrix to FP32 at every call, then "
            "multiplies")


def _tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def linear_bytes(module) -> int | None:
    """Bytes of one Linear layer's weights as its format stores them, or None if not a Linear."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    bnb = sys.modules.get("bitsandbytes")  # only a model built by bitsandbytes can hold its layers: no import
    if isinstance(module, DynamicLinear):  # int8 codes + one float64 scale and int64 zero point per row
        w, bias = module._weight_bias()
        extra = _tensor_bytes(bias) if bias is not None else 0
        scales = _tensor_bytes(w.q_per_channel_scales()) + _tensor_bytes(w.q_per_channel_zero_points())
        return w.numel() + scales + extra
    if bnb and isinstance(module, bnb.nn.Linear8bitLt):  # int8 codes + one FP32 absmax (SCB) per row
        scb = module.weight.SCB if module.weight.SCB is not None else module.state.SCB  # moved at 1st call
        return module.weight.numel() + _tensor_bytes(scb)
    if bnb and isinstance(module, bnb.nn.Linear4bit):  # packed codes (2 per byte) + absmax per block + 16-level map
        # On CPUs with AVX512-BF16 bitsandbytes repacks at the first call and keeps the absmaxes in BF16:
        # we count whatever layout the model holds now.
        state = module.weight.quant_state
        total = _tensor_bytes(module.weight.data) + _tensor_bytes(state.absmax) + _tensor_bytes(state.code)
        if state.nested:
            total += _tensor_bytes(state.state2.absmax) + _tensor_bytes(state.state2.code) + _tensor_bytes(state.offset)
        return total
    if isinstance(module, torch.nn.Linear):
        return sum(_tensor_bytes(p) for p in module.parameters(recurse=False))
    return None


@dataclass(frozen=True)
class SizeBreakdown:
    total_bytes: int
    linear_bytes: int  # the decoder's Linear layers, in the variant's format
    other_bytes: int  # embedding (= tied lm_head) and norm weights
    linear_weights: int  # how many weights those Linear layers hold


def size_breakdown(model) -> SizeBreakdown:
    """Bytes of every weight the model holds in memory now (each tensor once, tied ones counted once)."""
    seen, linear, other, count = set(), 0, 0, 0
    for name in decoder_linears(model):
        module = model.get_submodule(name)
        linear += linear_bytes(module)
        count += module.in_features * module.out_features
        seen.update(id(p) for p in module.parameters(recurse=False))
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            other += _tensor_bytes(p)
    return SizeBreakdown(linear + other, linear, other, count)



# ---- measuring: latency, perplexity, agreement ---------------------------------------------------
@torch.no_grad()
def greedy(model, input_ids: torch.Tensor, new_tokens: int) -> tuple[torch.Tensor, list[float]]:
    """(new_tokens greedy tokens (new_tokens,), seconds of each forward pass), with the KV cache.

    Always exactly new_tokens, end-of-text or not. A plain loop rather than model.generate: fewer
    Python layers around each step, so the timing is closer to what the model itself costs.
    seconds[0] is the prompt's prefill (it yields the first token); seconds[1:] are decode steps.
    """
    seconds, tokens = [], []
    start = time.perf_counter()
    out = model(input_ids=input_ids, use_cache=True)  # prefill: logits (1, P, V) and the KV cache
    seconds.append(time.perf_counter() - start)
    for _ in range(new_tokens):
        next_id = out.logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
        tokens.append(next_id)
        if len(tokens) < new_tokens:
            start = time.perf_counter()
            out = model(input_ids=next_id, cache=out.cache, use_cache=True)
            seconds.append(time.perf_counter() - start)
    return torch.cat(tokens, dim=1)[0], seconds


@torch.no_grad()
def teacher_forced_agreement(model, input_ids: torch.Tensor, reference: torch.Tensor) -> float:
    """Share of the reference continuation (R,) that `model` also predicts greedily given the same prefix."""
    full = torch.cat([input_ids[0], reference]).unsqueeze(0)  # (1, P + R)
    logits = model(input_ids=full).logits[0]  # (P + R, V)
    predicted = logits[input_ids.shape[1] - 1 : -1].argmax(dim=-1)  # (R,): the prediction of each reference token
    return (predicted == reference).float().mean().item()


def first_divergence(a: torch.Tensor, b: torch.Tensor) -> int:
    """Index of the first differing token of two equal-length sequences, len(a) if identical."""
    differ = (a != b).nonzero()
    return int(differ[0]) if len(differ) else len(a)


MATRICES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def matrix_name(layer: int, matrix: str) -> str:
    """matrix_name(3, 'up_proj') -> 'model.layers.3.mlp.up_proj'."""
    block = "self_attn" if matrix in MATRICES[:4] else "mlp"
    return f"model.layers.{layer}.{block}.{matrix}"


def method_study(model, name: str, group_size: int, bits=(4, 3), key: str = "tiny-lm",
                 calib_tokens: int = 1024, eval_tokens: int = 1024) -> list:
    """RTN vs GPTQ vs AWQ (core.inference.quant_methods) on one real weight matrix of `model`, at each bit width.

    Calibration inputs X come from the first `calib_tokens` of the training text, the held-out score
    from the first `eval_tokens` of the held-out text: X (N, I) is what the Linear `name` receives.
    """
    from core.inference.quant_methods import QuantConfig, compare_methods

    X_calib = capture_inputs(model, encode_corpus(key, "train", calib_tokens), [name])[name]  # (N, I)
    X_eval = capture_inputs(model, encode_corpus(key, "heldout", eval_tokens), [name])[name]  # (M, I)
    W = model.get_submodule(name).weight.detach().float()  # (O, I)
    rows = []
    for b in bits:
        rows.extend(compare_methods(W, X_calib, X_eval, QuantConfig(b, group_size)))
    return rows
