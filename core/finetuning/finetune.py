"""Fine-tuning: full fine-tuning against LoRA on the same tiny model, the same data, the same steps.

Full fine-tuning updates every weight W (C_out, C_in) with Adam, so it keeps, per trainable
parameter, the weight, its gradient and two Adam moments: 4 numbers.
LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685) freezes W and learns a low-rank update

    h = W x + (alpha / r) · B A x        A: (r, C_in), B: (C_out, r), B = 0 at the start

so ΔW = (alpha / r) · B A has rank ≤ r and costs r · (C_in + C_out) parameters instead of
C_in · C_out. Gradients and Adam moments exist only for A and B. After training, B A can be
merged into W (`merge_and_unload`), so inference costs nothing extra.

The task (assets/finetune/qa.tsv) is a format the base model has never seen: the tiny LM
was trained on King James verses only; here it learns to answer "Question: …\\nAnswer:" with a
few words and stop (end-of-text). Shapes: N examples, B batch, T tokens, V vocab.

Budget: one `compare` run is an explicit, button-started measurement on a shared 2-core server, so
it is capped in steps (MAX_STEPS per method) and in wall-clock time (MAX_SECONDS for both methods);
a run cut short says so in `Comparison.notes`.
"""
import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from core.pretraining.data import ASSETS

TASK_PATH = ASSETS / "finetune" / "qa.tsv"
N_HELDOUT = 8  # the last 8 pairs are never trained on
PROMPTS = ("Who built the ark?", "Who went up to heaven in a whirlwind?")  # seen in training, held out
MIN_STEPS = 2  # the step time is the median of steps 2..N, so every run makes at least two
MAX_STEPS = 100  # per method: the page's slider top; a link or a caller asking for more gets this
MAX_SECONDS = 60.0  # hard cap on one compare(), both methods, wall clock
TRAIN_SHARE = 0.4  # of MAX_SECONDS, for each method's steps; the rest is sampling and checks
MODULES = {
    "qv": ("q_proj", "v_proj"),  # the LoRA paper's choice
    "all": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),  # QLoRA's choice
}


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 30
    lr_full: float = 1e-3
    lr_lora: float = 1e-2  # LoRA moves a few parameters from zero: it wants a larger step than full FT
    rank: int = 8
    alpha: int = 16
    modules: str = "qv"  # key of MODULES
    batch_size: int = 8
    seed: int = 0
    max_new_tokens: int = 16


@dataclass(frozen=True)
class RunResult:
    """One fine-tuning run, everything measured on this machine."""
    method: str  # "full" | "lora"
    trainable: int  # parameters with requires_grad
    total: int  # all parameters of the trained model (LoRA: base + adapters)
    losses: tuple  # training loss of each step
    step_ms: float  # median wall time of a step (the profiled first step excluded)
    weights_bytes: int  # exact tally of the tensors alive after training ...
    grads_bytes: int
    optimizer_bytes: int  # ... Adam's exp_avg, exp_avg_sq and step counters
    peak_bytes: int  # weights + the highest allocation torch.profiler saw during step 1
    memory_ms: np.ndarray  # (M,) time since the start of step 1 ...
    memory_mb: np.ndarray  # (M,) ... and MB allocated by the step at that time
    heldout_loss: float  # mean next-token loss on the held-out pairs, after training
    samples: tuple  # greedy answers to PROMPTS, after training
    delta_sv: np.ndarray  # singular values of ΔW of layer 0's q_proj, largest first
    delta_rank: int  # numerical rank of that ΔW


@dataclass(frozen=True)
class Comparison:
    config: FinetuneConfig
    base_samples: tuple
    base_heldout_loss: float
    full: RunResult
    lora: RunResult
    merge_max_diff: float  # max |logits(merged) - logits(adapter)| on the held-out pairs ...
    logit_max_abs: float  # ... and the largest |logit| there, for scale
    base_max_change: float  # max |W_after - W_before| of the frozen weights under LoRA (should be 0)
    threads: int  # torch's intra-op threads during the runs
    notes: tuple = ()  # how the request was cut down to the budget, in words; () when it ran as asked


# ---- the task -------------------------------------------------------------------------------
def load_task(path: Path = TASK_PATH) -> tuple[list, list]:
    """(train, heldout) lists of (question, answer) pairs."""
    pairs = [tuple(line.split("\t")) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pairs[:-N_HELDOUT], pairs[-N_HELDOUT:]


def format_prompt(question: str) -> str:
    """format_prompt('Who built the ark?') -> 'Question: Who built the ark?\\nAnswer:'"""
    return f"Question: {question}\nAnswer:"


def encode_pairs(tokenizer, pairs: list) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs -> (input_ids, labels), both (N, T), right-padded; padding is labelled -100 (no loss).

    Each example is  <eos> Question: q\\nAnswer: a <eos>: the leading end-of-text is how every
    verse started in pretraining, the trailing one teaches the model to stop.
    """
    eos = tokenizer.eos_token_id
    rows = [[eos] + tokenizer.encode(f"{format_prompt(q)} {a}") + [eos] for q, a in pairs]
    T = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), T), tokenizer.pad_token_id, dtype=torch.long)  # (N, T)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)  # (N, T)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r)
        labels[i, : len(r)] = torch.tensor(r)
    return input_ids, labels


def lm_loss(model, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled tokens (HF shifts labels by one inside)."""
    return model(input_ids=input_ids, attention_mask=(labels != -100).long(), labels=labels).loss


@torch.no_grad()
def greedy_answer(model, tokenizer, question: str, max_new_tokens: int = 16) -> str:
    """The model's greedy continuation of format_prompt(question), up to end-of-text."""
    eos = tokenizer.eos_token_id
    ids = torch.tensor([[eos] + tokenizer.encode(format_prompt(question))])  # (1, T)
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                         do_sample=False, eos_token_id=eos, pad_token_id=tokenizer.pad_token_id)
    new = out[0, ids.shape[1]:].tolist()
    stopped = eos in new
    text = tokenizer.decode(new[: new.index(eos)] if stopped else new)
    return text + (" [end]" if stopped else " …")


# ---- LoRA -----------------------------------------------------------------------------------
def adapted_shapes(config, modules: str = "qv") -> list[tuple[str, int, int]]:
    """[(name, C_in, C_out)] of the Linear layers one decoder layer adapts, from a LlamaConfig."""
    C, I = config.hidden_size, config.intermediate_size
    D = getattr(config, "head_dim", None) or C // config.num_attention_heads
    q_out, kv_out = config.num_attention_heads * D, config.num_key_value_heads * D
    shapes = {"q_proj": (C, q_out), "k_proj": (C, kv_out), "v_proj": (C, kv_out), "o_proj": (q_out, C),
              "gate_proj": (C, I), "up_proj": (C, I), "down_proj": (I, C)}
    return [(name, *shapes[name]) for name in MODULES[modules]]


def lora_parameter_count(config, rank: int, modules: str = "qv") -> int:
    """Hand formula: L layers × Σ over adapted matrices of r·(C_in + C_out) (A is r×C_in, B is C_out×r)."""
    return config.num_hidden_layers * sum(rank * (c_in + c_out) for _, c_in, c_out in adapted_shapes(config, modules))


def llama_parameter_count(config) -> int:
    """All parameters of a Llama from its config alone: embeddings, L × (attention + MLP + 2 norms), norm, head."""
    C, I, V = config.hidden_size, config.intermediate_size, config.vocab_size
    per_layer = sum(c_in * c_out for _, c_in, c_out in adapted_shapes(config, "all")) + 2 * C
    head = 0 if config.tie_word_embeddings else V * C
    return V * C + config.num_hidden_layers * per_layer + C + head


# Llama-2-7B's shapes (Touvron et al. 2023, https://arxiv.org/abs/2307.09288): for "what if this were big"
LLAMA2_7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=32, tie_word_embeddings=False)


def max_rank(config, modules: str = "qv") -> int:
    """The largest useful rank: ΔW (C_out, C_in) cannot have rank above min(C_in, C_out)."""
    return min(min(c_in, c_out) for _, c_in, c_out in adapted_shapes(config, modules))


def within_budget(cfg: FinetuneConfig, config) -> tuple[FinetuneConfig, tuple[str, ...]]:
    """The run the budget allows, and what was cut: steps into [MIN_STEPS, MAX_STEPS], rank to max_rank.

    within_budget(FinetuneConfig(steps=10**6), config) -> (steps=100, ('1,000,000 steps asked; ...',)).
    """
    if cfg.modules not in MODULES:
        raise ValueError(f"modules must be one of {sorted(MODULES)}, got {cfg.modules!r}")
    notes = []
    steps = min(max(cfg.steps, MIN_STEPS), MAX_STEPS)
    if steps != cfg.steps:
        notes.append(f"{cfg.steps:,} steps asked; a run makes {MIN_STEPS} to {MAX_STEPS}, so {steps}")
    rank = min(max(cfg.rank, 1), max_rank(config, cfg.modules))
    if rank != cfg.rank:
        notes.append(f"rank {cfg.rank} asked; ΔW of these matrices has rank ≤ {max_rank(config, cfg.modules)}, "
                     f"so r = {rank}")
    return replace(cfg, steps=steps, rank=rank, alpha=max(cfg.alpha, 1)), tuple(notes)


def with_lora(model, rank: int, alpha: int, modules: str = "qv", seed: int = 0):
    """A deep copy of `model` with fresh LoRA adapters (A random, B = 0); `model` is untouched."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)  # A's initialisation
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(MODULES[modules]), lora_dropout=0.0,
                        bias="none", task_type="CAUSAL_LM")
    return get_peft_model(copy.deepcopy(model), config)


def trainable_count(model) -> tuple[int, int]:
    """(trainable, total) parameters."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


# ---- measuring ------------------------------------------------------------------------------
def tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def memory_tally(model, optimizer) -> tuple[int, int, int]:
    """(weights, gradients, optimizer state) in bytes, summed over the actual tensors alive now."""
    params = list(model.parameters())
    state = [t for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)]
    return tensor_bytes(params), tensor_bytes(p.grad for p in params if p.grad is not None), tensor_bytes(state)


def profile_allocations(fn):
    """Run fn() under torch.profiler(profile_memory=True); returns (fn(), peak, times_ms, allocated).

    Every tensor allocation (+bytes) and free (-bytes) made by this thread is an event; their
    running sum is what the step holds on top of what existed before it, and its max is the peak.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    if not events:
        return out, 0, np.zeros(1), np.zeros(1)
    t0 = events[0].start_ns()
    times_ms = np.array([(e.start_ns() - t0) / 1e6 for e in events])
    allocated = np.cumsum([e.nbytes() for e in events])
    return out, int(max(0, allocated.max())), times_ms, allocated


def find_linear(model, name: str, layer: int = 0):
    """The module `name` (q_proj, v_proj, ...) of decoder layer `layer`, plain or LoRA-wrapped."""
    block = "self_attn" if name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
    suffix = f"layers.{layer}.{block}.{name}"
    return next(m for k, m in model.named_modules() if k.endswith(suffix))


def weight_delta(base_model, trained_model, name: str = "q_proj", layer: int = 0) -> torch.Tensor:
    """ΔW (C_out, C_in) of one matrix: (alpha/r)·B A for a LoRA layer, W_after - W_before otherwise."""
    linear = find_linear(trained_model, name, layer)
    if hasattr(linear, "get_delta_weight"):  # a peft LoRA layer: its base weight never moves
        return linear.get_delta_weight("default").detach()
    return (linear.weight - find_linear(base_model, name, layer).weight).detach()


def delta_spectrum(delta: torch.Tensor) -> tuple[np.ndarray, int]:
    """Singular values of ΔW (largest first) and its numerical rank (torch's default tolerance)."""
    return torch.linalg.svdvals(delta.double()).numpy(), int(torch.linalg.matrix_rank(delta))


# ---- training -------------------------------------------------------------------------------
def train_steps(model, input_ids, labels, steps: int, lr: float, batch_size: int, seed: int, on_step=None,
                deadline: float | None = None):
    """Adam on the parameters that require grad, for `steps` seeded random batches.

    Returns (losses, step_ms, peak_bytes, memory_ms, memory_bytes, tally): step 1 runs under the
    memory profiler, the others are timed; `tally` is memory_tally after the last step. Past
    `deadline` (a time.perf_counter() value) no new step starts, once MIN_STEPS are done:
    len(losses) says how many ran.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses, times = [], []
    peak, memory_ms, memory_bytes = 0, np.zeros(1), np.zeros(1)
    for step in range(steps):
        if deadline is not None and step >= MIN_STEPS and time.perf_counter() > deadline:
            break
        idx = torch.randint(0, len(input_ids), (batch_size,), generator=generator)  # (B,)
        longest = int((labels[idx] != -100).sum(1).max())  # rows are right-padded: drop all-pad columns
        batch_ids, batch_labels = input_ids[idx, :longest], labels[idx, :longest]  # (B, T)

        def one_step() -> float:
            optimizer.zero_grad(set_to_none=True)
            loss = lm_loss(model, batch_ids, batch_labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            return loss.item()

        if step == 0:
            weights = tensor_bytes(model.parameters())
            loss, step_peak, memory_ms, memory_bytes = profile_allocations(one_step)
            peak = weights + step_peak
        else:
            start = time.perf_counter()
            loss = one_step()
            times.append((time.perf_counter() - start) * 1e3)
        losses.append(loss)
        if on_step:
            on_step(step, loss)
    model.eval()
    step_ms = float(np.median(times)) if times else float("nan")
    return losses, step_ms, peak, memory_ms, memory_bytes, memory_tally(model, optimizer)


@torch.no_grad()
def heldout_loss(model, tokenizer) -> float:
    input_ids, labels = encode_pairs(tokenizer, load_task()[1])
    return lm_loss(model, input_ids, labels).item()


def finetune(model, tokenizer, cfg: FinetuneConfig, method: str, on_step=None,
             deadline: float | None = None) -> tuple[RunResult, object]:
    """Fine-tune a deep copy of `model` ("full" or "lora"); returns (result, trained copy).

    Stops early, after at least MIN_STEPS, once time.perf_counter() passes `deadline`."""
    train_pairs, _ = load_task()
    input_ids, labels = encode_pairs(tokenizer, train_pairs)
    if method == "full":
        trained, lr = copy.deepcopy(model), cfg.lr_full
    else:
        trained, lr = with_lora(model, cfg.rank, cfg.alpha, cfg.modules, cfg.seed), cfg.lr_lora
    trainable, total = trainable_count(trained)
    losses, step_ms, peak, memory_ms, memory_bytes, (w, g, o) = train_steps(
        trained, input_ids, labels, cfg.steps, lr, cfg.batch_size, cfg.seed, on_step, deadline)
    sv, rank = delta_spectrum(weight_delta(model, trained, "q_proj"))
    result = RunResult(
        method=method, trainable=trainable, total=total, losses=tuple(losses), step_ms=step_ms,
        weights_bytes=w, grads_bytes=g, optimizer_bytes=o, peak_bytes=peak,
        memory_ms=memory_ms, memory_mb=memory_bytes / 2**20, heldout_loss=heldout_loss(trained, tokenizer),
        samples=tuple(greedy_answer(trained, tokenizer, q, cfg.max_new_tokens) for q in PROMPTS),
        delta_sv=sv, delta_rank=rank)
    return result, trained


@torch.no_grad()
def merge_check(lora_model, tokenizer) -> tuple[float, float]:
    """(max |logits(W + BA merged) - logits(W, BA kept apart)|, max |logit|) on the held-out pairs."""
    input_ids, labels = encode_pairs(tokenizer, load_task()[1])
    mask = (labels != -100).long()
    unmerged = lora_model(input_ids=input_ids, attention_mask=mask).logits  # (N, T, V)
    merged = copy.deepcopy(lora_model).merge_and_unload()(input_ids=input_ids, attention_mask=mask).logits
    keep = mask.bool()
    return (merged - unmerged)[keep].abs().max().item(), unmerged[keep].abs().max().item()


def base_weight_change(base_model, lora_model) -> float:
    """max |W_lora_copy - W_base| over every frozen base weight: LoRA must leave them bit-identical."""
    base = dict(base_model.named_parameters())
    worst = 0.0
    for name, p in lora_model.get_base_model().named_parameters():
        if "lora_" in name:
            continue
        original = base[name.replace(".base_layer", "")]
        worst = max(worst, (p - original).abs().max().item())
    return worst


def compare(model, tokenizer, cfg: FinetuneConfig, on_step=None, max_seconds: float = MAX_SECONDS) -> Comparison:
    """Full fine-tuning, then LoRA, on copies of `model`; `on_step(method, step, loss)` reports progress.

    The budget: `within_budget` caps steps and rank; each method's steps get TRAIN_SHARE of
    `max_seconds`. If full fine-tuning is stopped early, LoRA runs the same number of steps, so the
    two stay comparable; `Comparison.notes` says what was cut.
    """
    cfg, notes = within_budget(cfg, model.config)
    notes = list(notes)
    base_samples = tuple(greedy_answer(model, tokenizer, q, cfg.max_new_tokens) for q in PROMPTS)
    base_loss = heldout_loss(model, tokenizer)
    runs, planned = {}, cfg.steps
    for method in ("full", "lora"):
        report = (lambda step, loss, m=method: on_step(m, step, loss)) if on_step else None
        deadline = time.perf_counter() + TRAIN_SHARE * max_seconds
        runs[method] = finetune(model, tokenizer, cfg, method, report, deadline)
        done = len(runs[method][0].losses)
        if done < cfg.steps:
            notes.append(f"{method}: stopped after {done} of {planned} steps by the {max_seconds:.0f} s cap "
                         "on a run (the server is shared)")
            cfg = replace(cfg, steps=done)  # the other method runs no more steps than this one did
    lora_model = runs["lora"][1]
    merge_max_diff, logit_max_abs = merge_check(lora_model, tokenizer)
    return Comparison(config=replace(cfg, steps=planned), base_samples=base_samples, base_heldout_loss=base_loss,
                      full=runs["full"][0], lora=runs["lora"][0],
                      merge_max_diff=merge_max_diff, logit_max_abs=logit_max_abs,
                      base_max_change=base_weight_change(model, lora_model), threads=torch.get_num_threads(),
                      notes=tuple(notes))


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    base, tok = load_causal_lm("tiny-lm")
    cmp = compare(base, tok, FinetuneConfig())
    print(f"held-out loss of the base model: {cmp.base_heldout_loss:.3f}")
    for q, a in zip(PROMPTS, cmp.base_samples):
        print(f"  base   | {q} -> {a}")
    for r in (cmp.full, cmp.lora):
        print(f"{r.method:4s}: {r.trainable:>9,} / {r.total:,} trainable ({100 * r.trainable / r.total:.2f}%), "
              f"{r.step_ms:.0f} ms/step, peak {r.peak_bytes / 2**20:.1f} MB "
              f"(weights {r.weights_bytes / 2**20:.1f}, grads {r.grads_bytes / 2**20:.1f}, "
              f"Adam {r.optimizer_bytes / 2**20:.1f}), loss {r.losses[0]:.3f} -> {r.losses[-1]:.3f}, "
              f"held-out {r.heldout_loss:.3f}, rank(ΔW_q) {r.delta_rank}")
        for q, a in zip(PROMPTS, r.samples):
            print(f"  {r.method:6s} | {q} -> {a}")
    print(f"merged vs unmerged max |Δlogit| {cmp.merge_max_diff:.2e}; frozen weights changed by {cmp.base_max_change}")
