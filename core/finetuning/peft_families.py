"""The families of parameter-efficient fine-tuning (PEFT), side by side on one model and one task.

Same model (tiny-lm, 3.15M parameters), same data (assets/finetune/qa.tsv), same seeded batches,
same number of steps; only what is trained changes:

    full           every weight                                  —
    lora           ΔW = (α/r)·B A on chosen matrices             Hu et al. 2021, arXiv 2106.09685
    dora           W' = m · (W + ΔW_lora) / ‖W + ΔW_lora‖_col    Liu et al. 2024, arXiv 2402.09353
    adapter        bottleneck after attention and MLP            Houlsby et al. 2019, arXiv 1902.00751
    prompt         n virtual input embeddings                    Lester et al. 2021, arXiv 2104.08691
    prefix         n virtual keys and values in every layer      Li & Liang 2021, arXiv 2101.00190
    ia3            vectors rescaling k, v and the MLP's input    Liu et al. 2022, arXiv 2205.05638
    llama_adapter  gated prompt attention in the top layers      Zhang et al. 2023, arXiv 2303.16199

Trainable parameters per method, by hand (L layers, C model dim, I MLP dim, H_kv·D KV width):
LoRA r·(C_in + C_out) per adapted matrix; DoRA that + C_out (the magnitude m); adapter
2·C·m + C + m per adapter, 2 per layer; prompt n·C; prefix n·L·2·H_kv·D; IA³ L·(2·H_kv·D + I);
LLaMA-Adapter per adapted layer A·C + 1 (prompt and gate).
LoRA, DoRA and IA³ are linear in the frozen weight, so they merge into it (`merge_and_unload`)
and inference costs nothing extra (`forward_ms` times it for them: base, adapted, merged); adapters
keep a nonlinearity, prompts and prefixes keep occupying context. Every run works on a deep copy; the
caller's model is never touched. A comparison fits MAX_SECONDS: each method trains for its share of
it, and a method that would not finish in the time left (judged by the one before) is not started
(`PeftComparison.notes` says so).
"""
import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.finetuning import finetune as ft
from core.finetuning.bottleneck import adapter_parameter_count, with_bottleneck_adapters
from core.finetuning.loop import (
    MAX_SECONDS,
    MAX_STEPS,
    deadline_after,
    decode_answer,
    greedy_ids,
    sample_batch,
    train_bounded,
)

METHODS = ("full", "lora", "dora", "adapter", "prompt", "prefix", "ia3", "llama_adapter")
MERGEABLE = ("lora", "dora", "ia3")
PAPERS = {"full": "", "lora": "Hu et al. 2021, arXiv 2106.09685", "dora": "Liu et al. 2024, arXiv 2402.09353",
          "adapter": "Houlsby et al. 2019, arXiv 1902.00751", "prompt": "Lester et al. 2021, arXiv 2104.08691",
          "prefix": "Li & Liang 2021, arXiv 2101.00190", "ia3": "Liu et al. 2022, arXiv 2205.05638",
          "llama_adapter": "Zhang et al. 2023, arXiv 2303.16199"}
TARGETS = {"qv": ("q_proj", "v_proj"), "attn": ("q_proj", "k_proj", "v_proj", "o_proj"),
           "mlp": ("gate_proj", "up_proj", "down_proj"), "all": ft.MODULES["all"]}
IA3_TARGETS, IA3_FEEDFORWARD = ("k_proj", "v_proj", "down_proj"), ("down_proj",)  # peft's default for Llama
# Learning rates from a rough sweep on this task at 30 steps (×1/3 and ×3 around each, best held-out loss kept):
# the fewer the parameters, the larger the step they need to matter within a short run.
LEARNING_RATES = {"full": 1e-3, "lora": 1e-2, "dora": 1e-2, "adapter": 1e-2, "prompt": 3e-2, "prefix": 1e-1,
                  "ia3": 1e-1, "llama_adapter": 1e-1}
QUESTIONS = ("Who built the ark?",  # a training pair ...
             "Who was the oldest man?", "Which sea did Moses part?")  # ... and two held-out ones
MAX_BATCH, MAX_RANK, MAX_BOTTLENECK, MAX_VIRTUAL = 16, 64, 128, 32
MAX_TOTAL_STEPS = 240  # one comparison, all methods together: 8 methods × 30 steps
TRAIN_SHARE = 0.6  # of a comparison's seconds, split evenly between the methods' training; the rest measures
LATENCY_REPS = 6  # forward passes per model when timing base, adapted and merged models


@dataclass(frozen=True)
class PeftConfig:
    steps: int = 30  # per method, clipped to loop.MAX_STEPS
    batch_size: int = 8
    seed: int = 0
    lr_scale: float = 1.0  # multiplies LEARNING_RATES
    lora_rank: int = 8  # r (LoRA and DoRA)
    lora_alpha: int = 16  # α: ΔW is scaled by α / r
    lora_targets: str = "qv"  # key of TARGETS
    lora_dropout: float = 0.0
    bottleneck: int = 16  # m of the adapters
    n_virtual: int = 8  # prompt and prefix tokens
    adapter_len: int = 8  # LLaMA-Adapter prompt length A ...
    adapter_layers: int = 6  # ... in this many top layers
    max_new_tokens: int = 12

    def clipped(self) -> "PeftConfig":
        """The same config with every size inside the budget (a link or a script can ask for anything)."""
        return replace(self, batch_size=int(np.clip(self.batch_size, 1, MAX_BATCH)),
                       lora_rank=int(np.clip(self.lora_rank, 1, MAX_RANK)),
                       lora_dropout=float(np.clip(self.lora_dropout, 0.0, 0.5)),
                       bottleneck=int(np.clip(self.bottleneck, 1, MAX_BOTTLENECK)),
                       n_virtual=int(np.clip(self.n_virtual, 1, MAX_VIRTUAL)),
                       adapter_len=int(np.clip(self.adapter_len, 1, MAX_VIRTUAL)),
                       max_new_tokens=int(np.clip(self.max_new_tokens, 1, 24)),
                       lora_targets=self.lora_targets if self.lora_targets in TARGETS else "qv")


@dataclass(frozen=True)
class MethodResult:
    method: str
    trainable: int  # parameters with requires_grad, counted on the model
    formula: int  # the same number from the hand formula
    base_total: int  # parameters of the base model (the share's denominator)
    losses: tuple  # training loss per step
    step_ms: float
    peak_bytes: int
    heldout_loss: float  # mean next-token loss on the held-out QA pairs
    answers: tuple  # greedy answers to QUESTIONS after training
    merge_max_diff: float  # max |logits(merged) - logits(unmerged)|; nan where the method cannot merge
    merged_extra_modules: int  # adapter modules left after merge_and_unload (0 expected); -1 if not mergeable
    stopped_early: bool
    answer_loss: float = float("nan")  # mean loss on the held-out answers' tokens only (answer_loss)
    forward_ms: tuple = ()  # mergeable methods: median ms of a held-out forward pass (base, adapted, merged)
    timed_out: bool = False  # training reached its share of the comparison's seconds

    @property
    def share(self) -> float:
        return self.trainable / self.base_total


@dataclass(frozen=True)
class PeftComparison:
    config: PeftConfig
    base_heldout_loss: float
    base_answers: tuple
    results: tuple  # MethodResult per method, in the order run
    threads: int
    base_answer_loss: float = float("nan")  # the base model's answer_loss, zero-shot
    notes: tuple = ()  # what the time budget cut, in words


# ---- building each method -------------------------------------------------------------------
def linear_shapes(config) -> dict:
    """{name: (C_in, C_out)} of one decoder layer's linear maps, from a LlamaConfig."""
    return {name: (c_in, c_out) for name, c_in, c_out in ft.adapted_shapes(config, "all")}


def formula_count(config, method: str, cfg: PeftConfig) -> int:
    """Trainable parameters of `method` from the model's config and the knobs alone."""
    L, C, I = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    kv_width = config.num_key_value_heads * config.head_dim
    shapes = linear_shapes(config)
    lora = L * sum(cfg.lora_rank * (shapes[n][0] + shapes[n][1]) for n in TARGETS[cfg.lora_targets])
    counts = {
        "full": lambda: ft.llama_parameter_count(config),
        "lora": lambda: lora,
        "dora": lambda: lora + L * sum(shapes[n][1] for n in TARGETS[cfg.lora_targets]),
        "adapter": lambda: adapter_parameter_count(C, cfg.bottleneck, L),
        "prompt": lambda: cfg.n_virtual * C,
        "prefix": lambda: cfg.n_virtual * L * 2 * kv_width,
        "ia3": lambda: L * (2 * kv_width + I),  # k and v outputs scaled (H_kv·D each), down_proj's input (I)
        "llama_adapter": lambda: min(cfg.adapter_layers, L) * (cfg.adapter_len * C + 1),
    }
    return counts[method]()


def build(model, method: str, cfg: PeftConfig):
    """A trainable deep copy of `model` for `method`; `model` is untouched."""
    from peft import (
        IA3Config,
        LoraConfig,
        PrefixTuningConfig,
        PromptTuningConfig,
        get_peft_model,
    )

    from core.finetuning.adaption_prompt import with_adaption_prompt

    torch.manual_seed(cfg.seed)
    if method == "full":
        copied = copy.deepcopy(model)
        for p in copied.parameters():
            p.requires_grad_(True)
        return copied
    if method == "adapter":
        return with_bottleneck_adapters(model, cfg.bottleneck, cfg.seed)
    if method == "llama_adapter":
        return with_adaption_prompt(model, cfg.adapter_len, cfg.adapter_layers, cfg.seed)
    configs = {
        "lora": lambda: LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                   target_modules=list(TARGETS[cfg.lora_targets]), task_type="CAUSAL_LM"),
        "dora": lambda: LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                   target_modules=list(TARGETS[cfg.lora_targets]), use_dora=True,
                                   task_type="CAUSAL_LM"),
        # SAMPLE_VOCAB starts the virtual tokens at real token embeddings (Lester et al. found that beats random)
        "prompt": lambda: PromptTuningConfig(num_virtual_tokens=cfg.n_virtual, prompt_tuning_init="SAMPLE_VOCAB",
                                             task_type="CAUSAL_LM"),
        "prefix": lambda: PrefixTuningConfig(num_virtual_tokens=cfg.n_virtual, task_type="CAUSAL_LM"),
        "ia3": lambda: IA3Config(target_modules=list(IA3_TARGETS), feedforward_modules=list(IA3_FEEDFORWARD),
                                 task_type="CAUSAL_LM"),
    }
    return get_peft_model(copy.deepcopy(model), configs[method]())


# ---- merging ----------------------------------------------------------------------------------
ADAPTER_TAGS = ("lora_", "ia3_", "base_layer", "magnitude")


@torch.no_grad()
def merge_check(peft_model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[float, float, int]:
    """(max |logits(merged) - logits(unmerged)|, max |logit|, adapter modules left in the merged model).

    Merging folds ΔW into W (LoRA, DoRA) or multiplies the scaling vector into W (IA³); the merged
    model must be a plain Llama: no module named like an adapter, every Linear a torch Linear.
    """
    unmerged = peft_model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, T, V)
    merged_model = copy.deepcopy(peft_model).merge_and_unload()
    merged = merged_model(input_ids=input_ids, attention_mask=attention_mask).logits  # (B, T, V)
    keep = attention_mask.bool()
    extra = sum(any(tag in name for tag in ADAPTER_TAGS) or
                ("Linear" in type(module).__name__ and type(module) is not torch.nn.Linear)
                for name, module in merged_model.named_modules())
    return (merged - unmerged)[keep].abs().max().item(), unmerged[keep].abs().max().item(), int(extra)


@torch.no_grad()
def forward_ms(base, adapted, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               reps: int = LATENCY_REPS) -> tuple[float, float, float]:
    """Median ms of one forward pass: (base model, adapted model, adapted model merged by merge_and_unload).

    The models are timed in turn within each repetition, so a slower moment of a shared machine
    hits all of them alike. Merged LoRA and IA³ are plain Llamas again: their time is the base's.
    """
    models = [base, adapted, copy.deepcopy(adapted).merge_and_unload()]
    times = [[] for _ in models]
    for _ in range(reps + 1):  # the first round warms up and is dropped
        for i, m in enumerate(models):
            start = time.perf_counter()
            m(input_ids=input_ids, attention_mask=attention_mask)
            times[i].append((time.perf_counter() - start) * 1e3)
    return tuple(float(np.median(t[1:])) for t in times)


def encode_with_answer_labels(tokenizer, question: str, answer: str, shots=()) -> tuple[list, list]:
    """(input_ids, labels) of <eos> [shots] Question: q\nAnswer: a <eos>, labels -100 except the answer's tokens.

    shots: (question, answer) pairs written in front, each as the training text ending in <eos>, so
    the model can read the format and the stop from its context (few-shot prompting). The answer's
    tokens are " a" and the final <eos>; the prompt's tokens must be a prefix of the whole (checked).
    """
    eos = tokenizer.eos_token_id
    context = [eos] + [t for q, a in shots for t in tokenizer.encode(f"{ft.format_prompt(q)} {a}") + [eos]]
    prompt = context + tokenizer.encode(ft.format_prompt(question))
    ids = context + tokenizer.encode(f"{ft.format_prompt(question)} {answer}") + [eos]
    if ids[: len(prompt)] != prompt:
        raise ValueError(f"the prompt's tokens are not a prefix of the example's: {question!r}")
    return ids, [-100] * len(prompt) + ids[len(prompt):]


@torch.no_grad()
def answer_loss(model, tokenizer, pairs, shots=()) -> float:
    """Mean next-token loss over the answer tokens of `pairs` (prompt and shots carry none): one number
    that zero-shot, few-shot and fine-tuned models can all be measured by."""
    total, count = 0.0, 0
    for q, a in pairs:
        ids, labels = encode_with_answer_labels(tokenizer, q, a, shots)
        # prompt tuning returns logits for its virtual tokens too: the last T positions are the text's
        logits = model(input_ids=torch.tensor([ids])).logits[0, -len(ids):-1]  # (T-1, V)
        targets = torch.tensor(labels[1:])  # (T-1,)
        keep = targets != -100
        total += torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="sum").item()
        count += int(keep.sum())
    return total / count


# ---- running -----------------------------------------------------------------------------------
def answers(model, tokenizer, questions=QUESTIONS, max_new_tokens: int = 12) -> tuple:
    """Greedy answers to QA questions, in the task's format, from any of the methods' models."""
    eos = tokenizer.eos_token_id
    return tuple(decode_answer(tokenizer, greedy_ids(model, [eos] + tokenizer.encode(ft.format_prompt(q)), eos,
                                                     max_new_tokens)) for q in questions)


def run_method(model, tokenizer, method: str, cfg: PeftConfig = PeftConfig(), on_progress=None,
               deadline: float | None = None):
    """Train `method` on a copy of `model` for the QA task; returns (MethodResult, trained copy).

    deadline (time.perf_counter()) ends the training early; the measurements after it always run."""
    cfg = cfg.clipped()
    input_ids, labels = ft.encode_pairs(tokenizer, ft.load_task()[0])
    attention_mask = (labels != -100).long()
    trained = build(model, method, cfg)

    def batch_loss(generator):
        ids, lab, mask = sample_batch(input_ids, labels, attention_mask, cfg.batch_size, generator)
        return trained(input_ids=ids, attention_mask=mask, labels=lab).loss

    trace = train_bounded(trained, batch_loss, cfg.steps, LEARNING_RATES[method] * cfg.lr_scale, cfg.seed,
                          on_progress, label=method, deadline=deadline)
    held_ids, held_labels = ft.encode_pairs(tokenizer, ft.load_task()[1])
    held_mask = (held_labels != -100).long()
    with torch.no_grad():
        held_loss = trained(input_ids=held_ids, attention_mask=held_mask, labels=held_labels).loss.item()
    diff, extra = float("nan"), -1
    if method in MERGEABLE:
        diff, _, extra = merge_check(trained, held_ids, held_mask)
    trainable = sum(p.numel() for p in trained.parameters() if p.requires_grad)
    result = MethodResult(
        method=method, trainable=trainable, formula=formula_count(model.config, method, cfg),
        base_total=sum(p.numel() for p in model.parameters()), losses=trace.losses, step_ms=trace.step_ms,
        peak_bytes=trace.peak_bytes, heldout_loss=held_loss,
        answers=answers(trained, tokenizer, max_new_tokens=cfg.max_new_tokens),
        merge_max_diff=diff, merged_extra_modules=extra, stopped_early=trace.stopped_early,
        answer_loss=answer_loss(trained, tokenizer, ft.load_task()[1]),
        forward_ms=forward_ms(model, trained, held_ids, held_mask) if method in MERGEABLE else (),
        timed_out=trace.timed_out)
    return result, trained


def budgeted_steps(steps: int, n_methods: int) -> int:
    """Steps per method so that a comparison stays within MAX_TOTAL_STEPS: (60, 8) -> 30, (60, 2) -> 60."""
    return max(1, min(int(steps), MAX_STEPS, MAX_TOTAL_STEPS // max(1, n_methods)))


def compare(model, tokenizer, cfg: PeftConfig = PeftConfig(), methods=METHODS, on_progress=None,
            max_seconds: float | None = MAX_SECONDS) -> PeftComparison:
    """run_method for each of `methods` (unknown names skipped, at most one run each); on_progress spans all.

    The steps per method shrink with the number of methods (budgeted_steps); the result's config
    says how many were asked. Each method trains for at most TRAIN_SHARE · max_seconds / n seconds,
    and a method is not started when the one before took longer than the time left (None: no time
    limit); `notes` says what was cut.
    """
    methods = [m for m in dict.fromkeys(methods) if m in METHODS]
    cfg = replace(cfg.clipped(), steps=budgeted_steps(cfg.steps, len(methods)))
    end = deadline_after(max_seconds)
    share = None if max_seconds is None else TRAIN_SHARE * max_seconds / max(1, len(methods))
    results, notes, last_s = [], [], 0.0
    for i, method in enumerate(methods):
        started = time.perf_counter()
        if end is not None and results and started + last_s > end:  # the first method always runs
            notes.append(f"not run, they would not fit in the {max_seconds:.0f} s cap: {', '.join(methods[i:])}")
            break
        report = None if on_progress is None else (
            lambda fraction, message, i=i: on_progress((i + fraction) / len(methods), message))
        results.append(run_method(model, tokenizer, method, cfg, report, deadline_after(share))[0])
        if results[-1].timed_out:
            notes.append(f"{method}: {len(results[-1].losses)} of {cfg.steps} steps within its {share:.0f} s share")
        if results[-1].stopped_early:
            break
        last_s = time.perf_counter() - started
    return PeftComparison(config=cfg, base_heldout_loss=ft.heldout_loss(model, tokenizer),
                          base_answers=answers(model, tokenizer, max_new_tokens=cfg.max_new_tokens),
                          results=tuple(results), threads=torch.get_num_threads(),
                          base_answer_loss=answer_loss(model, tokenizer, ft.load_task()[1]), notes=tuple(notes))


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    base, tok = load_causal_lm("tiny-lm")
    cmp = compare(base, tok, PeftConfig(steps=30), on_progress=lambda f, m: print(f"  {f:4.0%} {m}") or True)
    print(f"base: held-out loss {cmp.base_heldout_loss:.3f}; answers {cmp.base_answers}")
    print(f"{'method':14s} {'trainable':>10s} {'formula':>10s} {'share':>7s} {'peak MB':>8s} {'ms/step':>8s} "
          f"{'loss':>6s} {'held-out':>8s}  merge |Δ|")
    for r in cmp.results:
        print(f"{r.method:14s} {r.trainable:>10,} {r.formula:>10,} {r.share:>7.2%} {r.peak_bytes / 2**20:>8.1f} "
              f"{r.step_ms:>8.0f} {r.losses[-1]:>6.3f} {r.heldout_loss:>8.3f}  {r.merge_max_diff:.1e}")
        print(f"{'':14s} answers: {r.answers}")
