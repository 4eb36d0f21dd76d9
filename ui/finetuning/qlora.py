"""Fine-tuning · QLoRA: LoRA on an NF4 base measured beside LoRA on the FP32 base, and the QLoRA paper's memory
arithmetic for LLaMA 7B to 65B (core.finetuning.qlora).
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import finetuning_depth as charts
from core.finetuning import qlora as ql
from core.finetuning.loop import MAX_SECONDS, MAX_STEPS
from core.state import Param
from ui.finetuning import budget_notes, fmt_ms, progress, training_run

PAPER_RANKS = (8, 16, 32, 64)
PARAMS = [
    Param("ql_steps", 10, 2, MAX_STEPS, step=1),
    Param("ql_rank", 8, 1, 64, step=1),
    Param("ql_double_quant", True),
    Param("ql_seed", 0, 0, 9999, step=1),
    Param("ql_paper_rank", 64, choices=PAPER_RANKS),
]


@ui.cached_compute(max_entries=16, max_size="4MB")
def _compare(steps: int, rank: int, double_quant: bool, seed: int) -> ql.QLoRAComparison:
    model, tokenizer = ui.causal_lm("tiny-lm")
    cfg = ql.QLoRAConfig(steps=steps, rank=rank, double_quant=double_quant, seed=seed)
    bar, on_progress = progress("LoRA on FP32, then QLoRA on NF4")
    comparison = ql.compare(model, tokenizer, cfg, on_progress=on_progress, max_seconds=MAX_SECONDS)
    bar.empty()
    return comparison


def _arithmetic() -> None:
    st.markdown(
        "NF4 stores each weight as one of 16 levels placed at quantiles of a normal distribution, in blocks of 64 "
        "with one scale per block. A 32-bit scale per 64 weights costs 0.5 bit per weight; **double "
        "quantization** stores the scales in 8 bits with one 32-bit scale per 256 of them:")
    st.latex(r"4 + \tfrac{32}{64} = 4.5 \text{ bits} \qquad\longrightarrow\qquad "
             r"4 + \tfrac{8}{64} + \tfrac{32}{64 \cdot 256} \approx " + f"{ql.nf4_bits_per_param(True):.3f}"
             + r" \text{ bits per weight}")
    rank = st.select_slider("LoRA rank in the arithmetic (the paper uses 64)", PAPER_RANKS, key="ql_paper_rank")
    rows = ql.memory_table(rank=rank)
    ui.chart(charts.qlora_memory_bars, charts.qlora_memory_frame(rows), ql.PAPER_GPU_GB, width="stretch")
    totals, params = ql.totals(rows), {r.model: r.params for r in rows}
    paper = {"65B": (f"more than {ql.PAPER_FULL_GB} GB", f"fits one {ql.PAPER_GPU_GB} GB GPU")}
    st.dataframe(pd.DataFrame([
        {"LLaMA": size, "parameters": f"{params[size] / 1e9:.2f} B",
         "full 16-bit (GB)": round(totals[(size, "full 16-bit")], 1), "QLoRA (GB)": round(totals[(size, "QLoRA")], 1),
         "ratio": f"{totals[(size, 'full 16-bit')] / totals[(size, 'QLoRA')]:.0f}×",
         "paper, full 16-bit": paper.get(size, ("—", "—"))[0], "paper, QLoRA": paper.get(size, ("—", "—"))[1]}
        for size in ql.LLAMA]), hide_index=True, width="stretch")
    st.caption("Arithmetic from LLaMA-1's shapes (Touvron et al. 2023), weights and optimizer state only: full "
               "16-bit fine-tuning keeps a 16-bit weight and gradient and an FP32 master weight with Adam's two "
               "moments, 16 bytes per parameter; QLoRA keeps the blocks' weights in NF4, the embeddings in 16 bits, "
               "and 16 bytes per LoRA parameter on all seven matrices of each layer. Activations are left out of "
               "both (QLoRA keeps them small with gradient checkpointing, and paged optimizers absorb the "
               "spikes). The paper's figures are its abstract's: 65B fine-tuned on a single 48 GB GPU, where "
               "regular 16-bit fine-tuning needs more than 780 GB (Dettmers et al. 2023).")


def _settings() -> ql.QLoRAConfig:
    c1, c2, c3 = st.columns(3)
    c1.slider("Steps (each run)", 2, MAX_STEPS, key="ql_steps")
    c2.slider("LoRA rank r (all seven matrices)", 1, 64, key="ql_rank")
    c3.toggle("Double quantization", key="ql_double_quant", help="8-bit block scales with their own FP32 scales.")
    c3.number_input("Seed", 0, 9999, key="ql_seed")
    s = st.session_state
    return ql.QLoRAConfig(steps=s.ql_steps, rank=s.ql_rank, double_quant=s.ql_double_quant, seed=int(s.ql_seed))


def _describe(cmp: ql.QLoRAComparison) -> str:
    c = cmp.config
    return (f"{c.steps} steps, r = {c.rank}, double quantization {'on' if c.double_quant else 'off'}, "
            f"seed {c.seed}")


def _results(cmp: ql.QLoRAComparison) -> None:
    lora, qlora = cmp.lora, cmp.qlora
    mb = lambda n: f"{n / 2**20:.2f}"  # noqa: E731
    rows = {
        "weights in memory (MB)": (mb(lora.weight_bytes), mb(qlora.weight_bytes)),
        "trainable parameters": (f"{lora.trainable:,}", f"{qlora.trainable:,}"),
        "peak memory of step 1 (MB)": (mb(lora.peak_bytes), mb(qlora.peak_bytes)),
        "ms per step (median)": (fmt_ms(lora.step_ms), fmt_ms(qlora.step_ms)),
        "held-out loss before training": (f"{lora.base_heldout_loss:.3f}", f"{qlora.base_heldout_loss:.3f}"),
        "training loss, first → last": (f"{lora.losses[0]:.2f} → {lora.losses[-1]:.2f}",
                                        f"{qlora.losses[0]:.2f} → {qlora.losses[-1]:.2f}"),
        "held-out loss after": (f"{lora.heldout_loss:.3f}", f"{qlora.heldout_loss:.3f}"),
        "answer to 'Who built the ark?'": (lora.answers[0], qlora.answers[0]),
    }
    st.dataframe(pd.DataFrame([(k, a, b) for k, (a, b) in rows.items()],
                              columns=["measured", "LoRA, FP32 base", "QLoRA, NF4 base"]), hide_index=True,
                 width="stretch")
    ui.chart(charts.qlora_run_bars, charts.qlora_run_frame(cmp))
    nf4 = cmp.nf4
    st.markdown(
        f"**The 4-bit base, tensor by tensor** ({cmp.backend}): {nf4.linear_params:,} weights of the Linear layers "
        f"packed two per byte ({nf4.packed_bytes / 2**20:.2f} MB) with {nf4.absmax_bytes / 2**10:.1f} KiB of block "
        f"scales and {nf4.second_level_bytes / 2**10:.2f} KiB of second-level constants: **{nf4.bits_per_param:.3f} "
        f"bits per weight** measured, {ql.nf4_bits_per_param(cmp.config.double_quant):.3f} by the formula. The tied "
        f"embedding / lm_head and the norms stay FP32 ({nf4.other_bytes / 2**20:.2f} MB), as bitsandbytes leaves them.")
    st.caption("Measured on this shared server's CPU: bitsandbytes dequantizes each 4-bit block to FP32 just in time "
               "at every forward and backward pass, which on a CPU costs time instead of saving it; on a GPU the "
               "point is memory, which is what makes a 65B model fit. The held-out loss before training shows "
               "what 4-bit rounding alone costs.")


def render() -> None:
    st.markdown(
        "QLoRA freezes the base model in **4 bits** (NF4) and trains LoRA adapters in 16 or 32 bits: gradients flow "
        "through the frozen 4-bit weights into the adapters, the only weights Adam updates. Below, the paper's "
        "memory arithmetic at real sizes, then both runs on tiny-lm, measured.")
    ui.bind_params(PARAMS)
    _arithmetic()
    if not ui.require_model("tiny-lm"):
        ui.sync_params(PARAMS)
        return
    st.subheader("LoRA vs QLoRA on tiny-lm, measured")
    cfg = _settings()
    ui.sync_params(PARAMS)
    settings = (cfg.steps, cfg.rank, cfg.double_quant, cfg.seed)
    cmp = training_run(
        "ql", settings, "Train LoRA and QLoRA", "LoRA and QLoRA", lambda: _compare(*settings),
        idle=(f"Click **Train LoRA and QLoRA**: LoRA (r = {cfg.rank}, all linear layers) on a copy of the FP32 "
              f"model, then on a freshly loaded NF4 copy (peft's `prepare_model_for_kbit_training`), {cfg.steps} "
              f"steps each, same seed, under {MAX_SECONDS:.0f} s."),
        describe=_describe)
    if cmp is not None:
        budget_notes((), cmp.config.steps, [cmp.lora, cmp.qlora])
        _results(cmp)
    ui.papers(("QLoRA (Dettmers et al. 2023)", "https://arxiv.org/abs/2305.14314"),
              ("LoRA (Hu et al. 2021)", "https://arxiv.org/abs/2106.09685"),
              ("LLaMA (Touvron et al. 2023)", "https://arxiv.org/abs/2302.13971"))
    ui.code_behind(ql.nf4_bits_per_param, ql.memory_table, ql.load_nf4, ql.with_lora, ql.nf4_weights, ql.compare)
