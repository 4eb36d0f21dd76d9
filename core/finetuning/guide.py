"""Prompting vs RAG vs full fine-tuning vs PEFT: when each wins, as table rows a page fills with its own numbers.

The four ways to make a pretrained model do a new job differ in what they change:

    prompting       nothing: instructions and examples go into the context of every query
    RAG             the context again, filled per query with retrieved passages (Lewis et al. 2020, arXiv 2005.11401)
    full fine-tune  every weight, with Adam's state for each (16 bytes per parameter in mixed precision)
    PEFT            a few new or selected parameters (LoRA, adapters, prompts, IA³; QLoRA on a 4-bit base)

The qualitative rows are fixed; the "measured here" column is written at render time from the
results the page computed (core.finetuning.peft_families, .qlora, .instruction), so the table
never quotes a number this machine did not produce.
"""
from dataclasses import dataclass, replace


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


def _peft_note(peft) -> tuple[str, str, str]:
    """(prompting, full, PEFT) notes from a peft_families.PeftComparison."""
    by_method = {r.method: r for r in peft.results}
    prompting = f"base model, held-out QA loss {peft.base_heldout_loss:.2f}; answers {peft.base_answers[0]!r}"
    full = ""
    if "full" in by_method:
        r = by_method["full"]
        full = (f"{r.trainable:,} trainable (100%), held-out loss {r.heldout_loss:.2f}, "
                f"peak {r.peak_bytes / 2**20:.1f} MB")
    others = [r for r in peft.results if r.method != "full"]
    pe = ""
    if others:
        best = min(others, key=lambda r: r.heldout_loss)
        smallest = min(others, key=lambda r: r.trainable)
        pe = (f"best held-out loss: {best.method} {best.heldout_loss:.2f} with {best.trainable:,} trainable "
              f"({best.share:.2%}); smallest: {smallest.method} {smallest.trainable:,} "
              f"(held-out {smallest.heldout_loss:.2f})")
    return prompting, full, pe


def guide_rows(peft=None, qlora=None, sft=None, rag_measured: str = "") -> tuple:
    """ROWS with `measured` filled from whichever results are given (each may be None).

    peft: peft_families.PeftComparison; qlora: qlora.QLoRAComparison; sft: instruction.MaskComparison;
    rag_measured: a sentence from the RAG page's own results, if the caller has one.
    """
    prompting, full, pe = _peft_note(peft) if peft is not None else ("", "", "")
    if sft is not None:
        base_note = f"base model on held-out instructions: exact match {sft.base.exact_match:.0%}"
        prompting = "; ".join(filter(None, [prompting, base_note]))
        full = "; ".join(filter(None, [full, f"SFT (prompt masked): exact match {sft.masked.exact_match:.0%}"]))
    if qlora is not None:
        qlora_note = (f"QLoRA weights {qlora.qlora.weight_bytes / 2**20:.1f} MB vs "
                      f"{qlora.lora.weight_bytes / 2**20:.1f} MB for LoRA on FP32, held-out "
                      f"{qlora.qlora.heldout_loss:.2f} vs {qlora.lora.heldout_loss:.2f}")
        pe = "; ".join(filter(None, [pe, qlora_note]))
    measured = (prompting, rag_measured, full, pe)
    return tuple(replace(row, measured=m) for row, m in zip(ROWS, measured))


if __name__ == "__main__":
    for row in guide_rows():
        print(f"{row.approach}\n  changes: {row.changes}\n  wins when: {row.wins_when}\n  loses when: {row.loses_when}")
