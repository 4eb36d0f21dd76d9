"""Prompting vs RAG vs full fine-tuning vs PEFT: when each wins, as table rows a page fills with its own numbers.

The four ways to make a pretrained model do a new job differ in what they change:

    prompting       nothing: instructions and examples go into the context of every query
    RAG             the context again, filled per query with retrieved passages (Lewis et al. 2020, arXiv 2005.11401)
    full fine-tune  every weight, with Adam's state for each (16 bytes per parameter in mixed precision)
    PEFT            a few new or selected parameters (LoRA, adapters, prompts, IA³; QLoRA on a 4-bit base)

The qualitative rows are fixed; the "measured here" column is written at render time from the
results the page computed (core.finetuning.peft_families, .qlora, .instruction, and `few_shot`
below, which measures prompting on the same held-out QA pairs by the same yardstick as the trained
models: the loss on the answer tokens), so the table never quotes a number this machine did not produce.
"""
import math
from dataclasses import dataclass, replace

from core.finetuning import finetune as ft
from core.finetuning.loop import decode_answer, greedy_ids
from core.finetuning.peft_families import QUESTIONS, answer_loss

MAX_SHOTS = 8  # examples in the prompt: ~20 tokens each, well inside tiny-lm's 512 positions


@dataclass(frozen=True)
class GuideRow:
    approach: str
    changes: str  # what is modified
    cost_to_adapt: str
    cost_per_query: str
    wins_when: str
    loses_when: str
    measured: str = ""  # filled from this page's results at render time


ROWS = (
    GuideRow("Prompting", "nothing: instructions and examples in the context",
             "none (minutes of writing)", "longer prompts: every query pays for the examples",
             "the base model can already do the task; the task changes often; few examples",
             "the model lacks the skill or format; examples crowd the context window"),
    GuideRow("RAG", "the context: passages retrieved per query",
             "an index of the documents (embeddings, no training)", "retrieval + longer prompts",
             "knowledge that is large, private or changing; answers must cite sources",
             "the need is a behaviour or format, not facts; retrieval misses the passage"),
    GuideRow("Full fine-tuning", "every weight",
             "weights + gradients + Adam: ~16 bytes per parameter; a full copy per task", "none extra",
             "a large shift of domain or behaviour, with data and hardware to match; small models",
             "memory; one full copy per task; forgetting what the base knew"),
    GuideRow("PEFT (LoRA, adapters, prompts, IA³; QLoRA)", "a few new or selected parameters; base frozen",
             "optimizer state for a small share of parameters; QLoRA also stores the base in 4 bits",
             "none after merging (LoRA, IA³); small extra work otherwise (adapters, prompts)",
             "teaching a format, style or task on modest hardware; many tasks sharing one base",
             "very large shifts at small rank; prompt-based methods on small models"),
)


@dataclass(frozen=True)
class PromptingResult:
    shots: int  # training pairs written in front of every question
    zero_shot_answer_loss: float  # mean loss on held-out answer tokens with no examples
    answer_loss: float  # ... with `shots` examples in front
    context_tokens: int  # tokens the examples add to every query
    answers: tuple  # greedy answers to peft_families.QUESTIONS with the examples in front


def few_shot(model, tokenizer, shots: int = 4, max_new_tokens: int = 12) -> PromptingResult:
    """Prompting measured: the base model with the first `shots` training pairs in its context (no training).

    few_shot(tiny_lm, tok, 0) measures the bare model; shots is clipped to [0, MAX_SHOTS].
    """
    shots = max(0, min(int(shots), MAX_SHOTS))
    train, heldout = ft.load_task()
    examples = train[:shots]
    eos = tokenizer.eos_token_id
    context = [eos] + [t for q, a in examples for t in tokenizer.encode(f"{ft.format_prompt(q)} {a}") + [eos]]
    got = tuple(decode_answer(tokenizer, greedy_ids(model, context + tokenizer.encode(ft.format_prompt(q)), eos,
                                                    max_new_tokens)) for q in QUESTIONS)
    return PromptingResult(shots=shots, zero_shot_answer_loss=answer_loss(model, tokenizer, heldout),
                           answer_loss=answer_loss(model, tokenizer, heldout, examples),
                           context_tokens=len(context) - 1, answers=got)


def _answer_loss(r) -> str:
    """', answer-token loss 1.23' when the result has one (results from before it was measured have nan)."""
    return "" if math.isnan(r.answer_loss) else f", answer-token loss {r.answer_loss:.2f}"


def _peft_note(peft) -> tuple[str, str, str]:
    """(prompting, full, PEFT) notes from a peft_families.PeftComparison."""
    by_method = {r.method: r for r in peft.results}
    prompting = f"base model, held-out QA loss {peft.base_heldout_loss:.2f}; answers {peft.base_answers[0]!r}"
    full = ""
    if "full" in by_method:
        r = by_method["full"]
        full = (f"{r.trainable:,} trainable (100%), held-out loss {r.heldout_loss:.2f}{_answer_loss(r)}, "
                f"peak {r.peak_bytes / 2**20:.1f} MB")
    others = [r for r in peft.results if r.method != "full"]
    pe = ""
    if others:
        best = min(others, key=lambda r: r.heldout_loss)
        smallest = min(others, key=lambda r: r.trainable)
        pe = (f"best held-out loss: {best.method} {best.heldout_loss:.2f}{_answer_loss(best)} with "
              f"{best.trainable:,} trainable ({best.share:.2%}); smallest: {smallest.method} {smallest.trainable:,} "
              f"(held-out {smallest.heldout_loss:.2f})")
    return prompting, full, pe


def _prompting_note(p: PromptingResult) -> str:
    return (f"{p.shots}-shot prompting: answer-token loss {p.answer_loss:.2f} (zero-shot "
            f"{p.zero_shot_answer_loss:.2f}) for {p.context_tokens} more tokens on every query; answers "
            f"{p.answers[0]!r}")


def guide_rows(peft=None, qlora=None, sft=None, rag_measured: str = "", prompting=None) -> tuple:
    """ROWS with `measured` filled from whichever results are given (each may be None).

    peft: peft_families.PeftComparison; qlora: qlora.QLoRAComparison; sft: instruction.MaskComparison;
    rag_measured: a sentence from the RAG page's own results, if the caller has one;
    prompting: a PromptingResult (few_shot).
    """
    prompt_note, full, pe = _peft_note(peft) if peft is not None else ("", "", "")
    if prompting is not None:
        prompt_note = "; ".join(filter(None, [_prompting_note(prompting), prompt_note]))
    if sft is not None:
        base_note = f"base model on held-out instructions: exact match {sft.base.exact_match:.0%}"
        prompt_note = "; ".join(filter(None, [prompt_note, base_note]))
        full = "; ".join(filter(None, [full, f"SFT (prompt masked): exact match {sft.masked.exact_match:.0%}"]))
    if qlora is not None:
        qlora_note = (f"QLoRA weights {qlora.qlora.weight_bytes / 2**20:.1f} MB vs "
                      f"{qlora.lora.weight_bytes / 2**20:.1f} MB for LoRA on FP32, held-out "
                      f"{qlora.qlora.heldout_loss:.2f} vs {qlora.lora.heldout_loss:.2f}")
        pe = "; ".join(filter(None, [pe, qlora_note]))
    measured = (prompt_note, rag_measured, full, pe)
    return tuple(replace(row, measured=m) for row, m in zip(ROWS, measured))


def measured_rows(prompting=None, peft=None, qlora=None) -> tuple:
    """One dict per approach this page measured, on the held-out QA pairs' answer tokens (the same yardstick):
    approach, trainable parameters, answer-token loss, tokens added to every query, peak MB of a training step
    (nan where nothing trains). Missing results give no rows: measured_rows() -> ()."""
    nan, rows = float("nan"), []
    if prompting is not None:
        rows.append({"approach": "prompting, zero-shot", "trainable": 0, "answer_loss": prompting.zero_shot_answer_loss,
                     "extra_tokens": 0, "peak_MB": nan})
        if prompting.shots:
            rows.append({"approach": f"prompting, {prompting.shots}-shot", "trainable": 0,
                         "answer_loss": prompting.answer_loss, "extra_tokens": prompting.context_tokens,
                         "peak_MB": nan})
    if peft is not None:
        virtual = {"prompt": peft.config.n_virtual}  # prompt tuning's virtual tokens sit in every query
        rows += [{"approach": "full fine-tuning" if r.method == "full" else r.method, "trainable": r.trainable,
                  "answer_loss": r.answer_loss, "extra_tokens": virtual.get(r.method, 0),
                  "peak_MB": r.peak_bytes / 2**20} for r in peft.results]
    if qlora is not None:
        rows.append({"approach": "QLoRA (NF4 base)", "trainable": qlora.qlora.trainable,
                     "answer_loss": qlora.qlora.answer_loss,
                     "extra_tokens": 0, "peak_MB": qlora.qlora.peak_bytes / 2**20})
    return tuple(rows)


if __name__ == "__main__":
    from core.models import load_causal_lm

    base, tok = load_causal_lm("tiny-lm")
    for k in (0, 4, MAX_SHOTS):
        print(_prompting_note(few_shot(base, tok, k)))
    for row in guide_rows():
        print(f"{row.approach}\n  changes: {row.changes}\n  wins when: {row.wins_when}\n  loses when: {row.loses_when}")
