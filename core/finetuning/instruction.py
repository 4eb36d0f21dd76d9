"""Instruction tuning (supervised fine-tuning, SFT): a chat template, and which tokens the loss sees.

A chat model is a language model fine-tuned on conversations written in one fixed text format,
its chat template. Ours, applied with the tokenizer's own `apply_chat_template`:

    <|endoftext|>User:\\n{instruction}\\nBot:\\n{response}<|endoftext|>
    └─────── prompt: the user's turn ───────┘└───── response ──────┘

Training can put the next-token loss on every token, or mask the prompt: labels = -100 there,
so the loss (and the gradient) comes from response tokens only. Standard SFT masks the prompt
(InstructGPT, Ouyang et al. 2022, arXiv 2203.02155; Alpaca-style and TRL's completion-only
training): the model should learn to answer, not to write users' questions. `compare_masking`
trains twice, identically but for the mask, and measures both on held-out instructions by the
same yardsticks (response-only loss, exact match of greedy answers).
Shapes: N examples, B batch, T tokens.
"""
import copy
import json
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.finetuning.loop import MAX_SECONDS, deadline_after, decode_answer, greedy_ids, sample_batch, train_bounded
from core.pretraining.data import ASSETS

INSTRUCTIONS_PATH = ASSETS / "finetune" / "instructions.jsonl"
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}User:\n{{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}Bot:\n{{ message['content'] }}{{ eos_token }}"
    "{% else %}{{ raise_exception('roles are user and assistant') }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Bot:\n{% endif %}"
)
MAX_BATCH, MAX_NEW_TOKENS = 16, 16
MAX_MASK_CHARS = 300  # token_mask takes text from a widget: instruction and response are cut to this
TRAIN_SHARE = 0.7  # of compare_masking's seconds, split between its two runs' training; the rest measures


@dataclass(frozen=True)
class Instruction:
    task: str  # repeat | next | reverse | opposite | verse | yesno
    instruction: str
    response: str


@dataclass(frozen=True)
class TokenMask:
    """One example as tokens, with which of them the loss sees: data for a highlight."""
    pieces: tuple  # decoded text of each token
    is_prompt: tuple  # True for the user's turn (and the template around it)
    in_loss: tuple  # True where the token is a target of the loss (labels != -100)


@dataclass(frozen=True)
class SFTConfig:
    steps: int = 60  # clipped to loop.MAX_STEPS; 60 × 16 rows is 12 passes over the 80 training rows
    batch_size: int = 16
    lr: float = 1e-3  # full fine-tuning of the 3M-parameter model (3e-3 overfits: held-out loss rises)
    seed: int = 0
    max_new_tokens: int = 12


@dataclass(frozen=True)
class SFTRun:
    mask_prompt: bool
    losses: tuple  # training loss per step (over the tokens this mode trains on)
    step_ms: float
    heldout_response_loss: float  # next-token loss on held-out responses only: the same yardstick for both modes
    heldout_prompt_loss: float  # ... and on held-out prompts: what unmasked training also learns
    exact_match: float  # share of held-out instructions answered exactly
    task_exact_match: tuple  # ((task, share), ...) sorted by task
    answers: tuple  # ((instruction, expected, got), ...) on held-out instructions
    stopped_early: bool
    timed_out: bool = False  # training reached its deadline


@dataclass(frozen=True)
class MaskComparison:
    config: SFTConfig
    base: SFTRun  # the untrained model measured the same way (losses empty)
    masked: SFTRun
    unmasked: SFTRun
    example_masked: TokenMask
    example_unmasked: TokenMask


# ---- data and template --------------------------------------------------------------------------
def load_instructions(path=INSTRUCTIONS_PATH) -> tuple[list, list]:
    """(train, heldout) lists of Instruction, by each row's "split"."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    split = {"train": [], "heldout": []}
    for r in rows:
        split[r["split"]].append(Instruction(r["task"], r["instruction"], r["response"]))
    return split["train"], split["heldout"]


def chat_tokenizer(tokenizer):
    """A copy of `tokenizer` carrying our CHAT_TEMPLATE (the shared one is never modified)."""
    chat = copy.deepcopy(tokenizer)
    chat.chat_template = CHAT_TEMPLATE
    return chat


def messages(instruction: str, response: str | None = None) -> list:
    turns = [{"role": "user", "content": instruction}]
    return turns + ([{"role": "assistant", "content": response}] if response is not None else [])


def prompt_ids(chat_tok, instruction: str) -> list:
    """Token ids of the user's turn plus 'Bot:\\n', ready for the model to answer."""
    return list(chat_tok.apply_chat_template(messages(instruction), add_generation_prompt=True,
                                             tokenize=True)["input_ids"])


def encode_example(chat_tok, instruction: str, response: str, mask_prompt: bool) -> tuple[list, list]:
    """(input_ids, labels) of one conversation; labels = -100 on the prompt when mask_prompt.

    The template ends the prompt with a newline, so the prompt's tokens are a prefix of the whole
    conversation's tokens (BPE merges nothing across it); checked here, since the mask relies on it.
    """
    ids = list(chat_tok.apply_chat_template(messages(instruction, response), tokenize=True)["input_ids"])
    n_prompt = len(prompt_ids(chat_tok, instruction))
    if ids[:n_prompt] != prompt_ids(chat_tok, instruction):
        raise ValueError(f"the prompt's tokens are not a prefix of the conversation's: {instruction!r}")
    labels = [-100] * n_prompt + ids[n_prompt:] if mask_prompt else list(ids)
    return ids, labels


def pad_examples(pairs, pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[(ids, labels), ...] -> (input_ids, labels, attention_mask), each (N, T), right-padded (padding: label -100)."""
    T = max(len(ids) for ids, _ in pairs)
    input_ids = torch.full((len(pairs), T), pad_id, dtype=torch.long)  # (N, T)
    labels = torch.full((len(pairs), T), -100, dtype=torch.long)  # (N, T)
    attention_mask = torch.zeros((len(pairs), T), dtype=torch.long)  # (N, T)
    for i, (ids, lab) in enumerate(pairs):
        input_ids[i, : len(ids)], labels[i, : len(ids)], attention_mask[i, : len(ids)] = (
            torch.tensor(ids), torch.tensor(lab), 1)
    return input_ids, labels, attention_mask


def encode(chat_tok, rows, mask_prompt: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Instructions -> (input_ids, labels, attention_mask), each (N, T), right-padded (padding: label -100)."""
    pairs = [encode_example(chat_tok, r.instruction, r.response, mask_prompt) for r in rows]
    return pad_examples(pairs, chat_tok.pad_token_id)


def token_mask(chat_tok, instruction: str, response: str, mask_prompt: bool) -> TokenMask:
    """Which tokens of one conversation the loss sees, as decoded pieces: data for a highlight."""
    instruction, response = instruction[:MAX_MASK_CHARS], response[:MAX_MASK_CHARS]
    ids, labels = encode_example(chat_tok, instruction, response, mask_prompt)
    n_prompt = len(prompt_ids(chat_tok, instruction))
    # HF shifts inside the loss: position t's label is the target of the logits at t-1, so the very
    # first token is never a target, masked or not.
    return TokenMask(pieces=tuple(chat_tok.decode([i]) for i in ids),
                     is_prompt=tuple(t < n_prompt for t in range(len(ids))),
                     in_loss=tuple(t > 0 and labels[t] != -100 for t in range(len(ids))))


# ---- measuring -----------------------------------------------------------------------------------
@torch.no_grad()
def heldout_losses(model, chat_tok, rows) -> tuple[float, float]:
    """(mean loss over response tokens, mean loss over prompt tokens) of `rows`, teacher-forced."""
    input_ids, labels, attention_mask = encode(chat_tok, rows, mask_prompt=True)
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]  # (N, T-1, V)
    targets = input_ids[:, 1:]  # (N, T-1)
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (N, T-1)
    is_response = labels[:, 1:] != -100  # (N, T-1)
    is_prompt = (attention_mask[:, 1:] == 1) & ~is_response
    return nll[is_response].mean().item(), nll[is_prompt].mean().item()


def normalise(text: str) -> str:
    """'  Tuesday. [end]' -> 'tuesday.': the comparison exact match uses."""
    return text.replace(" [end]", "").replace(" …", "").strip().lower()


def answer(model, chat_tok, instruction: str, max_new_tokens: int = 12) -> str:
    eos = chat_tok.eos_token_id
    return decode_answer(chat_tok, greedy_ids(model, prompt_ids(chat_tok, instruction), eos,
                                              min(max_new_tokens, MAX_NEW_TOKENS)))


def evaluate(model, chat_tok, rows, mask_prompt: bool, losses=(), step_ms=float("nan"), stopped=False,
             max_new_tokens: int = 12, timed_out: bool = False) -> SFTRun:
    """Measure `model` on held-out `rows`: losses, greedy answers, exact match overall and per task."""
    response_loss, prompt_loss = heldout_losses(model, chat_tok, rows)
    got = [answer(model, chat_tok, r.instruction, max_new_tokens) for r in rows]
    hits = [normalise(g) == normalise(r.response) for g, r in zip(got, rows)]
    tasks = sorted({r.task for r in rows})
    per_task = tuple((t, float(np.mean([h for h, r in zip(hits, rows) if r.task == t]))) for t in tasks)
    return SFTRun(mask_prompt=mask_prompt, losses=tuple(losses), step_ms=step_ms,
                  heldout_response_loss=response_loss, heldout_prompt_loss=prompt_loss,
                  exact_match=float(np.mean(hits)), task_exact_match=per_task,
                  answers=tuple((r.instruction, r.response, g) for r, g in zip(rows, got)), stopped_early=stopped,
                  timed_out=timed_out)


# ---- training ------------------------------------------------------------------------------------
def sft(model, tokenizer, cfg: SFTConfig = SFTConfig(), mask_prompt: bool = True, on_progress=None,
        deadline: float | None = None):
    """Full fine-tuning of a copy of `model` on the training instructions; returns (SFTRun, trained copy).

    Training ends at `deadline` (time.perf_counter()) if it comes first; the evaluation always runs."""
    chat_tok = chat_tokenizer(tokenizer)
    train, heldout = load_instructions()
    input_ids, labels, attention_mask = encode(chat_tok, train, mask_prompt)
    trained = copy.deepcopy(model)
    for p in trained.parameters():
        p.requires_grad_(True)
    batch_size = int(np.clip(cfg.batch_size, 1, MAX_BATCH))

    def batch_loss(generator):
        ids, lab, mask = sample_batch(input_ids, labels, attention_mask, batch_size, generator)
        return trained(input_ids=ids, attention_mask=mask, labels=lab).loss

    trace = train_bounded(trained, batch_loss, cfg.steps, cfg.lr, cfg.seed, on_progress,
                          label="masked" if mask_prompt else "all tokens", deadline=deadline)
    run = evaluate(trained, chat_tok, heldout, mask_prompt, trace.losses, trace.step_ms, trace.stopped_early,
                   cfg.max_new_tokens, trace.timed_out)
    return run, trained


def compare_masking(model, tokenizer, cfg: SFTConfig = SFTConfig(), on_progress=None,
                    max_seconds: float | None = MAX_SECONDS) -> MaskComparison:
    """The base model, then SFT with the prompt masked, then SFT on every token: same seed, data, steps.

    Each run trains for at most TRAIN_SHARE · max_seconds / 2 seconds (None: no limit); if the first is
    cut short, the second makes as many steps, so the two stay comparable."""
    chat_tok = chat_tokenizer(tokenizer)
    train, heldout = load_instructions()
    base = evaluate(model, chat_tok, heldout, True, max_new_tokens=cfg.max_new_tokens)

    def half(offset):
        return None if on_progress is None else (lambda f, m: on_progress(offset + f / 2, m))

    share = None if max_seconds is None else TRAIN_SHARE * max_seconds / 2
    masked, _ = sft(model, tokenizer, cfg, True, half(0.0), deadline_after(share))
    unmasked, _ = sft(model, tokenizer, replace(cfg, steps=len(masked.losses)), False, half(0.5),
                      deadline_after(share))
    example = train[0]
    return MaskComparison(config=cfg, base=base, masked=masked, unmasked=unmasked,
                          example_masked=token_mask(chat_tok, example.instruction, example.response, True),
                          example_unmasked=token_mask(chat_tok, example.instruction, example.response, False))


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    base_model, tok = load_causal_lm("tiny-lm")
    chat = chat_tokenizer(tok)
    first = load_instructions()[0][0]
    print(repr(chat.apply_chat_template(messages(first.instruction, first.response), tokenize=False)))
    mask = token_mask(chat, first.instruction, first.response, mask_prompt=True)
    print("".join(f"[{p}]" if loss else p for p, loss in zip(mask.pieces, mask.in_loss)), "  ([…] = in the loss)")
    cmp = compare_masking(base_model, tok, on_progress=lambda f, m: print(f"  {f:4.0%} {m}") or True)
    for name, run in (("base", cmp.base), ("masked", cmp.masked), ("all tokens", cmp.unmasked)):
        print(f"{name:10s} held-out response loss {run.heldout_response_loss:.3f}, prompt loss "
              f"{run.heldout_prompt_loss:.3f}, exact match {run.exact_match:.0%} "
              f"{dict(run.task_exact_match)}")
    for (instruction, expected, got_base), (_, _, got_masked) in zip(cmp.base.answers, cmp.masked.answers):
        print(f"  {instruction!r}: expected {expected!r}; base {got_base!r}; masked SFT {got_masked!r}")
