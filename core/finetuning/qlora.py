"""QLoRA (Dettmers et al. 2023, https://arxiv.org/abs/2305.14314): LoRA on a frozen 4-bit base.

The base weights are stored in NF4 (4-bit NormalFloat: 16 levels placed at quantiles of a normal
distribution), in blocks of 64 with one absmax scale per block. An FP32 scale per 64 weights costs
32/64 = 0.5 bit per weight; double quantization stores those scales in 8 bits, with one FP32
scale per 256 of them, so a weight costs

    4 + 8/64 + 32/(64·256) ≈ 4.127 bits        (4.5 bits without double quantization)

Each forward dequantizes a block back to the compute dtype just in time; gradients flow through the
frozen 4-bit weights into FP32 LoRA matrices (Hu et al. 2021, arXiv 2106.09685), the only ones Adam
updates. Here bitsandbytes' CPU backend runs it: same code path as on a GPU, without the speed.

The paper's claims (abstract and §1): QLoRA "reduces memory usage enough to finetune a 65B parameter
model on a single 48GB GPU", while "regular 16-bit finetuning of a LLaMA 65B parameter model
requires more than 780 GB of GPU memory". `memory_table` redoes that arithmetic from LLaMA's shapes.
Shapes: N parameters, L layers, C model dim, I MLP dim, r LoRA rank.
"""
import copy
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import torch

from core.finetuning import finetune as ft
from core.finetuning.loop import MAX_SECONDS, deadline_after, sample_batch, train_bounded
from core.finetuning.peft_families import TARGETS, answer_loss, answers

# LLaMA-1 shapes (Touvron et al. 2023, arXiv 2302.13971, Table 2: C and L; I from the released configs)
LLAMA = {"7B": {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32},
         "13B": {"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40, "num_attention_heads": 40},
         "33B": {"hidden_size": 6656, "intermediate_size": 17920, "num_hidden_layers": 60, "num_attention_heads": 52},
         "65B": {"hidden_size": 8192, "intermediate_size": 22016, "num_hidden_layers": 80, "num_attention_heads": 64}}
# Mixed-precision Adam per parameter (Rajbhandari et al. 2019, ZeRO, arXiv 1910.02054, §3.1): 16-bit weight and
# gradient, and an FP32 master weight with Adam's m and v: 2 + 2 + 12 = 16 bytes.
WEIGHT_BYTES, GRAD_BYTES, ADAM_BYTES = 2, 2, 12
FULL_16BIT_BYTES = WEIGHT_BYTES + GRAD_BYTES + ADAM_BYTES
LORA_BYTES = 16  # per LoRA parameter, the same accounting: they are trained like a small full model
PAPER_GPU_GB, PAPER_FULL_GB = 48, 780  # QLoRA's two headline figures (arXiv 2305.14314, abstract and §1)
TRAIN_SHARE = 0.7  # of a comparison's seconds, split between the two runs' training; the rest loads and measures


@dataclass(frozen=True)
class QLoRAConfig:
    steps: int = 20  # clipped to loop.MAX_STEPS
    batch_size: int = 8
    rank: int = 8
    alpha: int = 16
    targets: str = "all"  # QLoRA adapts every linear layer of the blocks
    lr: float = 1e-2
    double_quant: bool = True
    seed: int = 0


@dataclass(frozen=True)
class NF4Weights:
    """What the 4-bit base weighs, tensor by tensor (bytes)."""
    linear_params: int  # weights of the decoder's Linear layers, the ones bitsandbytes quantizes
    packed_bytes: int  # two 4-bit codes per byte
    absmax_bytes: int  # one scale per block of 64: uint8 with double quantization, FP32 without
    second_level_bytes: int  # FP32 scales of the scales (one per 256) and offsets
    other_bytes: int  # everything left in FP32: embeddings (tied with lm_head), norms

    @property
    def bits_per_param(self) -> float:
        return 8 * (self.packed_bytes + self.absmax_bytes + self.second_level_bytes) / self.linear_params


@dataclass(frozen=True)
class BaseRun:
    method: str  # "lora" (FP32 base) | "qlora" (NF4 base)
    weight_bytes: int  # base weights (with quantization constants) + LoRA weights
    trainable: int
    losses: tuple
    step_ms: float
    peak_bytes: int  # bytes of the model's parameters + the first step's peak allocation
    base_heldout_loss: float  # the base before any training: quantization error shows here
    heldout_loss: float
    answers: tuple
    timed_out: bool = False  # training reached its share of the comparison's seconds
    answer_loss: float = float("nan")  # held-out loss on the answer tokens only (peft_families.answer_loss)


@dataclass(frozen=True)
class QLoRAComparison:
    config: QLoRAConfig
    lora: BaseRun
    qlora: BaseRun
    nf4: NF4Weights
    backend: str  # bitsandbytes version and device


@dataclass(frozen=True)
class MemoryRow:
    model: str  # "65B"
    params: int  # N, from the shapes
    setup: str  # "full 16-bit" | "QLoRA"
    part: str
    gb: float  # 1e9 bytes


# ---- the arithmetic ---------------------------------------------------------------------------
def nf4_bits_per_param(double_quant: bool = True, block: int = 64, block2: int = 256) -> float:
    """4 + 32/64 = 4.5 without double quantization; 4 + 8/64 + 32/(64·256) ≈ 4.127 with it."""
    return 4 + (8 / block + 32 / (block * block2) if double_quant else 32 / block)


def llama_config(size: str) -> SimpleNamespace:
    """A config-like namespace of LLaMA-1 `size` ("7B" … "65B"): head dim 128, no GQA, untied head, V = 32,000."""
    shapes = LLAMA[size]
    return SimpleNamespace(**shapes, num_key_value_heads=shapes["num_attention_heads"], head_dim=128,
                           vocab_size=32000, tie_word_embeddings=False)


def lora_params(config, rank: int, targets: str = "all") -> int:
    """L · Σ r·(C_in + C_out) over the adapted matrices (no GQA in LLaMA-1: q, k, v, o are C × C)."""
    shapes = {name: (c_in, c_out) for name, c_in, c_out in ft.adapted_shapes(config, "all")}
    return config.num_hidden_layers * sum(rank * sum(shapes[n]) for n in TARGETS[targets])


def memory_table(rank: int = 64, double_quant: bool = True) -> tuple:
    """MemoryRows for LLaMA 7B-65B: full 16-bit fine-tuning vs QLoRA (weights and optimizer state only).

    Activations are left out of both: they depend on batch and sequence length, and QLoRA keeps them
    small with gradient checkpointing (and pages optimizer state to CPU RAM on spikes).
    """
    rows = []
    for size in LLAMA:
        config = llama_config(size)
        N = ft.llama_parameter_count(config)
        embeddings = 2 * config.vocab_size * config.hidden_size  # input embeddings + lm_head, kept in 16 bits
        nf4_gb = (N - embeddings) * nf4_bits_per_param(double_quant) / 8 / 1e9
        rows += [MemoryRow(size, N, "full 16-bit", "weights", WEIGHT_BYTES * N / 1e9),
                 MemoryRow(size, N, "full 16-bit", "gradients", GRAD_BYTES * N / 1e9),
                 MemoryRow(size, N, "full 16-bit", "Adam (FP32 master, m, v)", ADAM_BYTES * N / 1e9),
                 MemoryRow(size, N, "QLoRA", "NF4 weights", nf4_gb),
                 MemoryRow(size, N, "QLoRA", "16-bit embeddings", WEIGHT_BYTES * embeddings / 1e9),
                 MemoryRow(size, N, "QLoRA", f"LoRA r={rank} + grads + Adam",
                           LORA_BYTES * lora_params(config, rank) / 1e9)]
    return tuple(rows)


def totals(rows) -> dict:
    """{(model, setup): GB} summed over parts."""
    out = {}
    for r in rows:
        out[(r.model, r.setup)] = out.get((r.model, r.setup), 0.0) + r.gb
    return out


# ---- the measured runs --------------------------------------------------------------------------
def load_nf4(double_quant: bool = True):
    """tiny-lm with its Linear layers in NF4 (bitsandbytes), loaded from its folder: a fresh, private copy."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from core.models import loading, model_path

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=double_quant,
                               bnb_4bit_compute_dtype=torch.float32)
    with loading():  # from_pretrained changes process-wide torch state: never beside another thread's work
        model = AutoModelForCausalLM.from_pretrained(model_path("tiny-lm"), quantization_config=quant,
                                                     dtype=torch.float32)
    return model.eval()


def quantization_constants(module) -> tuple[int, int]:
    """(absmax bytes, second-level bytes) of one bitsandbytes Linear4bit: the scales stored beside the codes."""
    state = module.weight.quant_state
    second = ft.tensor_bytes([state.state2.absmax, state.offset]) if state.nested else 0
    return ft.tensor_bytes([state.absmax]), second


def nf4_weights(model) -> NF4Weights:
    """Exact tally of a 4-bit model's weight tensors and quantization constants."""
    import bitsandbytes as bnb

    linear, packed, absmax, second, quantized = 0, 0, 0, 0, set()
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            quantized.add(id(module.weight))
            linear += int(np.prod(module.weight.quant_state.shape))
            packed += ft.tensor_bytes([module.weight])
            a, b = quantization_constants(module)
            absmax, second = absmax + a, second + b
    other = ft.tensor_bytes(p for p in model.parameters() if id(p) not in quantized)
    return NF4Weights(linear, packed, absmax, second, other)


def weight_bytes(model) -> int:
    """Bytes of every parameter (4-bit ones as packed bytes) plus the quantization constants."""
    import bitsandbytes as bnb

    constants = sum(sum(quantization_constants(m)) for m in model.modules() if isinstance(m, bnb.nn.Linear4bit))
    return ft.tensor_bytes(model.parameters()) + constants


def with_lora(base, cfg: QLoRAConfig, quantized: bool):
    """peft LoRA on `base` (QLoRA: first prepare_model_for_kbit_training, which freezes the base and
    upcasts the few non-quantized weights to FP32). Gradient checkpointing stays off: no memory to save here."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        base = prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    torch.manual_seed(cfg.seed)
    config = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, target_modules=list(TARGETS[cfg.targets]),
                        lora_dropout=0.0, task_type="CAUSAL_LM")
    return get_peft_model(base, config)


def run(base, tokenizer, cfg: QLoRAConfig, quantized: bool, on_progress=None, deadline: float | None = None
        ) -> BaseRun:
    """Train LoRA on `base` (already a private copy) for the QA task and measure it; training ends at `deadline`."""
    train_ids, train_labels = ft.encode_pairs(tokenizer, ft.load_task()[0])
    held_ids, held_labels = ft.encode_pairs(tokenizer, ft.load_task()[1])
    train_mask, held_mask = (train_labels != -100).long(), (held_labels != -100).long()
    with torch.no_grad():
        base_loss = base(input_ids=held_ids, attention_mask=held_mask, labels=held_labels).loss.item()
    model = with_lora(base, cfg, quantized)

    def batch_loss(generator):
        ids, lab, mask = sample_batch(train_ids, train_labels, train_mask, min(cfg.batch_size, 16), generator)
        return model(input_ids=ids, attention_mask=mask, labels=lab).loss

    method = "qlora" if quantized else "lora"
    trace = train_bounded(model, batch_loss, cfg.steps, cfg.lr, cfg.seed, on_progress, label=method,
                          deadline=deadline)
    with torch.no_grad():
        held_loss = model(input_ids=held_ids, attention_mask=held_mask, labels=held_labels).loss.item()
    return BaseRun(method=method, weight_bytes=weight_bytes(model),
                   trainable=sum(p.numel() for p in model.parameters() if p.requires_grad), losses=trace.losses,
                   step_ms=trace.step_ms, peak_bytes=trace.peak_bytes, base_heldout_loss=base_loss,
                   heldout_loss=held_loss, answers=answers(model, tokenizer), timed_out=trace.timed_out,
                   answer_loss=answer_loss(model, tokenizer, ft.load_task()[1]))


def compare(model, tokenizer, cfg: QLoRAConfig = QLoRAConfig(), on_progress=None,
            max_seconds: float | None = MAX_SECONDS) -> QLoRAComparison:
    """LoRA on a copy of the FP32 `model`, then QLoRA on a freshly loaded NF4 tiny-lm, same seed and steps.

    Each trains for at most TRAIN_SHARE · max_seconds / 2 seconds (None: no limit)."""
    import bitsandbytes as bnb

    cfg = replace(cfg, rank=int(np.clip(cfg.rank, 1, 64)), targets=cfg.targets if cfg.targets in TARGETS else "all")

    def half(offset):
        return None if on_progress is None else (lambda f, m: on_progress(offset + f / 2, m))

    share = None if max_seconds is None else TRAIN_SHARE * max_seconds / 2
    lora = run(copy.deepcopy(model), tokenizer, cfg, False, half(0.0), deadline_after(share))
    nf4_model = load_nf4(cfg.double_quant)
    nf4 = nf4_weights(nf4_model)
    same_steps = replace(cfg, steps=len(lora.losses))  # cut by time, LoRA sets how many steps QLoRA gets
    qlora = run(nf4_model, tokenizer, same_steps, True, half(0.5), deadline_after(share))
    device = next(nf4_model.parameters()).device
    return QLoRAComparison(cfg, lora, qlora, nf4, f"bitsandbytes {bnb.__version__} on {device}")


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    print(f"NF4 bits per parameter: {nf4_bits_per_param(False):.3f} plain, {nf4_bits_per_param(True):.4f} "
          f"with double quantization")
    rows = memory_table()
    for (size, setup), gb in totals(rows).items():
        print(f"  LLaMA {size:>3s} {setup:12s} {gb:8.1f} GB")
    base, tok = load_causal_lm("tiny-lm")
    cmp = compare(base, tok)
    print(f"{cmp.backend}; NF4 linear weights: {cmp.nf4.linear_params:,} parameters at "
          f"{cmp.nf4.bits_per_param:.3f} bits; FP32 rest {cmp.nf4.other_bytes / 2**20:.2f} MB")
    for r in (cmp.lora, cmp.qlora):
        print(f"{r.method:6s} weights {r.weight_bytes / 2**20:6.2f} MB, {r.trainable:,} trainable, "
              f"{r.step_ms:.0f} ms/step, peak {r.peak_bytes / 2**20:.1f} MB, base held-out {r.base_heldout_loss:.3f}, "
              f"loss {r.losses[0]:.3f} -> {r.losses[-1]:.3f}, held-out {r.heldout_loss:.3f}")
        print(f"       answers {r.answers}")
