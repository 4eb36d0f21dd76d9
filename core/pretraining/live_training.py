"""Train a tiny GPT from scratch, live: the loss falls from ln V and the samples turn into verses.

The model is a Llama-architecture causal LM (RMSNorm, RoPE, SwiGLU, grouped-query attention) in
one of a few tiny shapes (PRESETS), trained with AdamW on windows of the corpus (tiny-lm's
4,096-token BPE). The knobs are those of a real pretraining run:

- learning rate and schedule: constant, or linear warm-up then cosine decay to 10%
  (core.pretraining.training.lr_at);
- batch size B and gradient accumulation k: each optimizer step sums the gradients of k
  micro-batches of B windows, each loss divided by k, which equals one batch of k·B windows
  (grad_accum_check shows it to float precision) at the memory of B;
- precision: FP32, or BF16 autocast (weights stay FP32; matmuls run in bfloat16);
- steps (at most MAX_STEPS) and seconds (at most MAX_SECONDS): whichever ends first.

At step 0 every token is equally likely, so the loss is about ln V = ln 4096 = 8.32: the first
thing to check in any training run. Shapes: B batch, T tokens, V vocabulary, k accumulation.
"""
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.pretraining import token_stream as ts
from core.pretraining.training import TrainConfig, lr_at, random_windows

VOCAB = 4096
PRESETS = {  # name -> Llama shape (C, L, H, KV heads, MLP width); 'tiny-lm' is the bundled model's own shape
    name: {"hidden_size": C, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV,
           "intermediate_size": I}
    for name, C, L, H, KV, I in [("nano", 64, 2, 4, 2, 172), ("micro", 128, 4, 4, 2, 344),
                                 ("tiny-lm", 192, 6, 6, 2, 512)]
}
SCHEDULES = ("warmup+cosine", "constant")
PRECISIONS = ("fp32", "bf16")
MAX_STEPS = 1000
MAX_SECONDS = 60.0
MAX_MICRO_TOKENS = 2048  # B · T of one forward pass
MAX_STEP_TOKENS = 8192  # B · T · k of one optimizer step
MAX_SEQ_LEN = 128
MAX_SAMPLE_TOKENS = 48
MAX_CHECKPOINTS = 12
MEMORY_SOURCE = ("torch.profiler (profile_memory=True) over the first optimizer step: the peak of the running "
                 "sum of tensor allocations and frees, plus the weights held before it")


@dataclass(frozen=True)
class LiveConfig:
    preset: str = "nano"
    lr: float = 3e-3
    schedule: str = "warmup+cosine"
    warmup: int = 20
    batch_size: int = 16  # B, windows per micro-batch
    grad_accum: int = 1  # k, micro-batches per optimizer step
    seq_len: int = 64  # T
    precision: str = "fp32"
    steps: int = 200
    max_seconds: float = 30.0
    eval_every: int = 50
    eval_windows: int = 16  # held-out windows of T tokens, the same at every checkpoint
    prompt: str = "And God said"
    sample_tokens: int = 24
    seed: int = 0


@dataclass(frozen=True)
class Checkpoint:
    step: int  # optimizer steps done
    tokens_seen: int
    heldout_loss: float
    perplexity: float  # exp(heldout_loss)
    sample: str  # the prompt's continuation, sampled (temperature 0.8, seeded)


@dataclass(frozen=True)
class LiveResult:
    config: LiveConfig
    parameters: int
    initial_expected: float  # ln V
    losses: tuple[float, ...]  # training loss of each optimizer step (mean over its micro-batches)
    lrs: tuple[float, ...]  # learning rate of each step
    checkpoints: tuple[Checkpoint, ...]
    tokens_per_s: float  # training tokens per second of training time (checkpoints and step 1 excluded)
    step_ms: float  # median wall time of an optimizer step, step 1 excluded
    weights_bytes: int
    peak_bytes: int  # see memory_source
    memory_source: str
    stopped_by: str  # 'steps', 'time' or 'user'
    seconds: float  # wall time of the whole run
    threads: int


def validate(cfg: LiveConfig, limit_seconds: float | None = None) -> None:
    """Raise ValueError for settings outside the work budget (a link can ask for anything).

    limit_seconds: the time cap allowed (MAX_SECONDS unless given): only the offline scaling sweep, which
    no viewer can start, passes a longer one.
    """
    limit = MAX_SECONDS if limit_seconds is None else limit_seconds
    problems = []
    if cfg.preset not in PRESETS:
        problems.append(f"preset must be one of {list(PRESETS)}")
    if cfg.schedule not in SCHEDULES or cfg.precision not in PRECISIONS:
        problems.append(f"schedule in {SCHEDULES}, precision in {PRECISIONS}")
    if not (1 <= cfg.steps <= MAX_STEPS and 0 < cfg.max_seconds <= limit):
        problems.append(f"steps in 1..{MAX_STEPS}, max_seconds in (0, {limit}]")
    if not (2 <= cfg.seq_len <= MAX_SEQ_LEN and cfg.batch_size >= 1 and cfg.grad_accum >= 1):
        problems.append(f"seq_len in 2..{MAX_SEQ_LEN}, batch_size and grad_accum >= 1")
    micro_tokens = cfg.batch_size * cfg.seq_len
    if micro_tokens > MAX_MICRO_TOKENS or micro_tokens * cfg.grad_accum > MAX_STEP_TOKENS:
        problems.append(f"B·T <= {MAX_MICRO_TOKENS} and B·T·k <= {MAX_STEP_TOKENS}")
    if not (0 < cfg.lr <= 0.1 and cfg.eval_every >= 1 and 1 <= cfg.eval_windows <= 64):
        problems.append("lr in (0, 0.1], eval_every >= 1, eval_windows in 1..64")
    if not 0 <= cfg.sample_tokens <= MAX_SAMPLE_TOKENS or len(cfg.prompt) > 200:
        problems.append(f"sample_tokens in 0..{MAX_SAMPLE_TOKENS}, prompt at most 200 characters")
    if problems:
        raise ValueError("; ".join(problems))


def parameter_count(preset: str) -> int:
    """Parameters of a PRESETS shape, from the shape alone: ('nano') -> 353,088.

    Tied embedding V·C (it is also the lm_head); per layer q_proj C·HD, k_proj and v_proj C·H_kv·D each,
    o_proj HD·C, SwiGLU's gate, up and down 3·C·I, two RMSNorm scales 2C; the final norm C. No biases.
    """
    shape = PRESETS[preset]
    C, L, I = shape["hidden_size"], shape["num_hidden_layers"], shape["intermediate_size"]
    H, KV = shape["num_attention_heads"], shape["num_key_value_heads"]
    D = C // H
    per_layer = C * H * D + 2 * C * KV * D + H * D * C + 3 * C * I + 2 * C
    return VOCAB * C + L * per_layer + C


def build_model(preset: str = "nano", seed: int = 0):
    """A freshly initialised LlamaForCausalLM of a PRESETS shape (seeded), tiny-lm's vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, max_position_embeddings=MAX_SEQ_LEN + MAX_SAMPLE_TOKENS + 64,
                         tie_word_embeddings=True, bos_token_id=ts.EOT_ID, eos_token_id=ts.EOT_ID,
                         pad_token_id=ts.PAD_ID, **PRESETS[preset])
    return LlamaForCausalLM(config)


@torch.no_grad()
def sample(model, prompt: str, n_tokens: int, seed: int, temperature: float = 0.8) -> str:
    """Continue `prompt` by n_tokens sampled tokens (own loop, own generator: seeded, no global RNG)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.tensor([[ts.EOT_ID] + ts.tokenizer().encode(prompt, add_special_tokens=False).ids])  # (1, T)
    for _ in range(n_tokens):
        logits = model(input_ids=ids).logits[0, -1].float()  # (V,)
        probs = torch.softmax(logits / temperature, dim=-1)
        ids = torch.cat([ids, torch.multinomial(probs, 1, generator=generator)[None]], dim=1)  # (1, T + 1)
    return ts.decode(ids[0, 1:].tolist())


@torch.no_grad()
def heldout_loss(model, windows: torch.Tensor) -> float:
    """Mean next-token loss over fixed held-out windows (N, T), in FP32."""
    return model(input_ids=windows, labels=windows).loss.item()


def train_live(cfg: LiveConfig = LiveConfig(), on_progress=None, limit_seconds: float | None = None) -> LiveResult:
    """Train a fresh model with `cfg`; on_progress(fraction, message) -> bool after every step.

    Stops at cfg.steps, at cfg.max_seconds of training (checked after every step, and between the
    micro-batches of a step: a step cut short is dropped), or when on_progress returns False.
    Checkpoints (held-out loss, a sample) at step 0, every eval_every steps (at most
    MAX_CHECKPOINTS) and at the end. limit_seconds: see `validate`.
    """
    from core.finetuning.finetune import profile_allocations, tensor_bytes

    validate(cfg, limit_seconds)
    start_all = time.perf_counter()
    model = build_model(cfg.preset, cfg.seed)
    train_ids = ts.token_stream("train", 200_000, every=5)
    eval_windows = random_windows(ts.token_stream("heldout", 20_000), cfg.eval_windows, cfg.seq_len,
                                  torch.Generator().manual_seed(1234))  # (N, T)
    schedule = TrainConfig(steps=cfg.steps, lr=cfg.lr, warmup=min(cfg.warmup, cfg.steps))
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.lr, betas=(0.9, 0.95))
    generator = torch.Generator().manual_seed(cfg.seed)
    every = max(cfg.eval_every, -(-cfg.steps // MAX_CHECKPOINTS))
    tokens_per_step = cfg.batch_size * cfg.seq_len * cfg.grad_accum
    checkpoints, losses, lrs, step_times = [], [], [], []
    weights = tensor_bytes(model.parameters())
    peak, stopped_by = weights, "steps"

    def checkpoint(step: int) -> None:
        model.eval()
        loss = heldout_loss(model, eval_windows)
        text = sample(model, cfg.prompt, cfg.sample_tokens, cfg.seed) if cfg.sample_tokens else ""
        checkpoints.append(Checkpoint(step, step * tokens_per_step, loss, math.exp(loss), text))
        model.train()

    def one_step(step: int) -> float | None:
        """k micro-batches, then one update; None if the time cap hit between micro-batches."""
        lr = lr_at(step, schedule) if cfg.schedule == "warmup+cosine" else cfg.lr
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for micro in range(cfg.grad_accum):
            if micro and time.perf_counter() - start_train > cfg.max_seconds:
                return None
            batch = random_windows(train_ids, cfg.batch_size, cfg.seq_len, generator)  # (B, T)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
                loss = model(input_ids=batch, labels=batch).loss / cfg.grad_accum
            loss.backward()  # .grad += ∂(loss / k)/∂θ
            total += loss.item()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        lrs.append(lr)
        return total

    checkpoint(0)
    model.train()
    start_train = time.perf_counter()  # the time cap counts training, not set-up and the step-0 checkpoint
    for step in range(cfg.steps):
        t0 = time.perf_counter()
        if step == 0:
            loss, step_peak, _, _ = profile_allocations(lambda: one_step(0))
            peak = weights + step_peak
        else:
            loss = one_step(step)
        if loss is None:
            stopped_by = "time"
            break
        if step:
            step_times.append(time.perf_counter() - t0)
        losses.append(loss)
        if (step + 1) % every == 0 and step + 1 < cfg.steps:
            checkpoint(step + 1)
        message = f"step {step + 1}/{cfg.steps}, loss {loss:.3f}"
        if on_progress and on_progress((step + 1) / cfg.steps, message) is False:
            stopped_by = "user"
            break
        if time.perf_counter() - start_train > cfg.max_seconds:
            stopped_by = "time" if step + 1 < cfg.steps else "steps"
            break
    if losses and checkpoints[-1].step != len(losses):
        checkpoint(len(losses))
    train_seconds = sum(step_times)
    return LiveResult(
        config=cfg, parameters=sum(p.numel() for p in model.parameters()), initial_expected=math.log(VOCAB),
        losses=tuple(losses), lrs=tuple(lrs), checkpoints=tuple(checkpoints),
        tokens_per_s=len(step_times) * tokens_per_step / train_seconds if train_seconds else float("nan"),
        step_ms=1000 * float(np.median(step_times)) if step_times else float("nan"),
        weights_bytes=weights, peak_bytes=peak, memory_source=MEMORY_SOURCE, stopped_by=stopped_by,
        seconds=time.perf_counter() - start_all, threads=torch.get_num_threads())


# ---- gradient accumulation, checked -----------------------------------------------------------
@dataclass(frozen=True)
class AccumCheck:
    micro_batch: int  # B
    accum: int  # k
    loss_full: float  # mean loss of the k·B batch
    loss_accum: float  # sum over micro-batches of (mean loss / k)
    max_abs_diff: float  # max |grad(k·B batch) - sum of k micro-batch grads|, over every parameter
    max_abs_grad: float  # for scale


def grad_accum_check(preset: str = "nano", micro_batch: int = 4, accum: int = 4, seq_len: int = 32,
                     seed: int = 0) -> AccumCheck:
    """Gradient of one batch of k·B windows vs k micro-batches of B, each loss / k, accumulated.

    Equal because every window has T - 1 targets, so the mean over the big batch is the mean
    of the micro-batch means. (With padding, micro-batches of different token counts would need
    weighting by their counts instead of 1/k.)
    """
    if micro_batch * accum * seq_len > MAX_STEP_TOKENS:
        raise ValueError(f"B·k·T must be at most {MAX_STEP_TOKENS}")
    model = build_model(preset, seed)
    batch = random_windows(ts.token_stream("train", 50_000, every=5), micro_batch * accum, seq_len,
                           torch.Generator().manual_seed(seed))  # (k·B, T)
    model.zero_grad()
    full = model(input_ids=batch, labels=batch).loss
    full.backward()
    grads_full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    accumulated = 0.0
    for chunk in batch.split(micro_batch):  # k chunks of (B, T)
        loss = model(input_ids=chunk, labels=chunk).loss / accum
        loss.backward()  # .grad += ∂(loss / k)/∂θ
        accumulated += loss.item()
    diff = max((g - p.grad).abs().max().item() for g, p in zip(grads_full, model.parameters()))
    return AccumCheck(micro_batch, accum, full.item(), accumulated, diff,
                      max(g.abs().max().item() for g in grads_full))


# ---- why BF16 may be slow on a CPU --------------------------------------------------------------
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclass(frozen=True)
class CpuFeatures:
    flags: dict  # flag -> present, for CPU_FLAGS
    capability: str  # torch.backends.cpu.get_cpu_capability(): the widest kernels torch dispatches to
    bf16_native: bool  # avx512_bf16 or amx_bf16
    explanation: str


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuFeatures:
    """The CPU's vector / matrix extensions, and what they mean for BF16 autocast."""
    try:
        text = cpuinfo.read_text()
        flag_lines = [line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")]
        present = set(flag_lines[0]) if flag_lines else set()
    except OSError:  # not Linux
        present = set()
    flags = {f: f in present for f in CPU_FLAGS}
    capability = torch.backends.cpu.get_cpu_capability()
    native = flags["avx512_bf16"] or flags["amx_bf16"]
    if native:
        why = ("This CPU has native BF16 arithmetic (" + ", ".join(f for f in ("avx512_bf16", "amx_bf16") if flags[f]) +
               "): AVX512-BF16 multiplies pairs of bf16 values and accumulates them in fp32 in one instruction, and "
               "AMX adds tile units that multiply whole bf16 matrices. Autocast's matmuls run on them with half the "
               "memory traffic of FP32: on such a CPU BF16 was about 1.2x faster than FP32 for tiny models like these "
               "(the project's measurement; the gain grows with the matrix sizes).")
    else:
        why = (f"This CPU ({platform.machine()}, torch kernels: {capability}) has no native BF16 arithmetic (no "
               "avx512_bf16, no amx_bf16). Every bf16 matmul must convert its inputs to fp32 and its result back, "
               "outside the fast FP32 GEMM kernels, so autocast only adds work: BF16 autocast was measured 14x slower "
               "than FP32 on an AVX2-only machine here. On CPUs without these flags, train in FP32; mixed precision "
               "pays off on GPUs (tensor cores) and on CPUs with AVX512-BF16 or AMX.")
    return CpuFeatures(flags, capability, native, why)


if __name__ == "__main__":
    from core.compute import set_threads

    set_threads()
    feats = cpu_features()
    print("CPU flags:", {f: v for f, v in feats.flags.items()}, "| torch capability:", feats.capability)
    print(feats.explanation)
    check = grad_accum_check()
    print(f"gradient accumulation: batch of {check.micro_batch * check.accum} vs {check.accum} x {check.micro_batch}: "
          f"max |Δgrad| {check.max_abs_diff:.2e} (largest gradient {check.max_abs_grad:.2e}); "
          f"loss {check.loss_full:.6f} vs {check.loss_accum:.6f}")
    res = train_live(LiveConfig(steps=60, eval_every=20, max_seconds=30))
    print(f"{res.parameters:,} parameters; ln V = {res.initial_expected:.3f}; first loss {res.losses[0]:.3f}; "
          f"stopped by {res.stopped_by} after {len(res.losses)} steps, {res.seconds:.1f} s")
    print(f"{res.tokens_per_s:,.0f} tokens/s, {res.step_ms:.0f} ms/step, peak {res.peak_bytes / 2**20:.1f} MB "
          f"(weights {res.weights_bytes / 2**20:.1f} MB; {res.memory_source})")
    for c in res.checkpoints:
        print(f"  step {c.step:4d}: held-out loss {c.heldout_loss:.3f} (ppl {c.perplexity:7.1f}) | {c.sample!r}")
