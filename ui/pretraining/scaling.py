"""Pretraining · Scaling: the 6ND rule, the Chinchilla law and a compute-optimal calculator (pure arithmetic,
core.pretraining.scaling: no lock), then the tiny GPTs' own loss against compute, a stored sweep to which the
learner adds live runs (on a button, capped).
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining_scaling as charts
from core.pretraining import scaling as sc
from core.state import Param
from ui.pretraining import bind, explicit_run, progress

GPUS = {"A100, BF16 dense (312 TFLOP/s)": 312e12, "H100 SXM, BF16 dense (989 TFLOP/s)": 989e12}
REFERENCE_BUDGETS = (1e18, 1e20, 1e22, 1e24)
LIVE_SECONDS = 60.0
MAX_LIVE = 6
PARAMS = [
    Param("sc_budget", 22.0, 18.0, 26.0, step=0.1),  # log10 of the compute budget in FLOPs
    Param("sc_n", 9.8, 6.0, 13.0, step=0.1),  # log10 of your model's parameters
    Param("sc_d", 12.3, 8.0, 15.0, step=0.1),  # log10 of its training tokens
    Param("sc_gpu", next(iter(GPUS)), choices=tuple(GPUS)),
    Param("sc_gpus", 1024, 1, 16384, step=1),
    Param("sc_mfu", 0.4, 0.05, 0.8, step=0.05),
    Param("sc_preset", "micro", choices=sc.SWEEP_PRESETS),
    Param("sc_steps", 100, choices=sc.SWEEP_STEPS),
]


@ui.cached_compute(max_entries=16, max_size="1MB")
def _live_point(preset: str, steps: int) -> sc.ScalingPoint:
    bar, on_progress = progress(f"Training {preset} for {steps} steps")
    point = sc.run_point(preset, steps, LIVE_SECONDS, on_progress)
    bar.empty()
    return point


def _human(x: float) -> str:
    """_human(7.0e9) -> '7.0B'."""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= size:
            return f"{x / size:.1f}{unit}"
    return f"{x:.0f}"


def _calculator() -> None:
    s = st.session_state
    st.subheader("A compute budget, split")
    st.slider("Compute budget C (log₁₀ FLOPs)", 18.0, 26.0, step=0.1, key="sc_budget", format="10^%.1f")
    C = 10 ** s.sc_budget
    law, rule = sc.compute_optimal(C), sc.twenty_tokens_rule(C)
    c1, c2, c3 = st.columns(3)
    c1.metric("fitted law: best N", _human(law.parameters), f"D = {_human(law.tokens)} tokens "
              f"({law.tokens_per_parameter:.0f} per parameter)", delta_color="off")
    c2.metric("20 tokens per parameter: N", _human(rule.parameters), f"D = {_human(rule.tokens)} tokens",
              delta_color="off")
    c3.metric("predicted loss, law's best / 20-token rule", f"{law.loss:.3f} / {rule.loss:.3f}")
    g1, g2, g3, g4 = st.columns(4)
    g1.selectbox("GPU", list(GPUS), key="sc_gpu")
    g2.number_input("GPUs", 1, 16384, key="sc_gpus")
    g3.slider("Utilisation (MFU)", 0.05, 0.8, step=0.05, key="sc_mfu",
              help="Model FLOPs utilisation: the share of the peak that training sustains (30-50% is good).")
    days = sc.training_days(C, int(s.sc_gpus), GPUS[s.sc_gpu], float(s.sc_mfu))
    g4.metric("wall-clock", f"{days:,.1f} days" if days >= 1 else f"{days * 24:,.1f} hours")
    a, b = sc.BETA / (sc.ALPHA + sc.BETA), sc.ALPHA / (sc.ALPHA + sc.BETA)
    st.caption(f"C = {C:.2e} FLOPs. The law's closed form (exponents a = β/(α+β) = {a:.2f} for N, {b:.2f} for D) "
               "asks for more tokens per parameter than the paper's own Table 3 (about 20, from its Approaches "
               "1 and 2, where both exponents are about 0.5): the fitted constants are rounded and the three "
               "approaches disagree (a later replication, Besiroglu et al. 2024, refits them). The 20-token rule "
               "is what practice took from the paper.")

    st.subheader("Your model")
    c1, c2 = st.columns(2)
    c1.slider("Parameters N (log₁₀)", 6.0, 13.0, step=0.1, key="sc_n", format="10^%.1f")
    c2.slider("Training tokens D (log₁₀)", 8.0, 15.0, step=0.1, key="sc_d", format="10^%.1f")
    N, D = 10 ** s.sc_n, 10 ** s.sc_d
    mine = sc.allocation(sc.training_flops(N, D), N)  # 6e14 .. 6e28 FLOPs: inside the law's range
    best = sc.compute_optimal(mine.flops)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("N, D", f"{_human(N)}, {_human(mine.tokens)}", f"{mine.tokens_per_parameter:,.1f} tokens per parameter",
              delta_color="off")
    c2.metric("compute 6ND", f"{mine.flops:.2e} FLOPs")
    c3.metric("predicted loss", f"{mine.loss:.3f}")
    c4.metric("same compute, law's best size", _human(best.parameters), f"loss {best.loss:.3f} "
              f"({best.loss - mine.loss:+.3f})", delta_color="off")
    budgets = sorted({*REFERENCE_BUDGETS, C, mine.flops})
    optima = [sc.compute_optimal(b).__dict__ for b in budgets]
    chosen = {"parameters": mine.parameters, "tokens": mine.tokens, "loss": mine.loss}
    ui.chart(charts.isoflop_chart, sc.isoflop_rows(budgets), optima, chosen, width="stretch")
    st.caption("Each curve spends one budget on models of every size: small models see many tokens but cannot "
               "use them, large ones see too few. The dot is the best size; the red diamond is your model. "
               "Loss in nats per token on Chinchilla's own data (MassiveText), as fitted.")


def _published() -> None:
    st.subheader("Published models against the rule")
    st.dataframe(pd.DataFrame([{
        "model": m.name, "parameters": _human(m.parameters), "tokens": _human(m.tokens),
        "tokens per parameter": round(m.tokens / m.parameters, 1),
        "compute 6ND (FLOPs)": f"{sc.training_flops(m.parameters, m.tokens):.2e}",
        "law's loss": round(float(sc.chinchilla_loss(m.parameters, m.tokens)), 3), "source": m.source}
        for m in sc.PUBLISHED]), hide_index=True, width="stretch")
    st.caption("Chinchilla (70B) used about Gopher's compute (280B) on 4.7× the tokens and beat it on almost "
               "every benchmark. Llama-2-7B goes far past 20 tokens per parameter on purpose: a smaller model "
               "trained longer costs more to train but less to serve.")
    with st.expander("The paper's Table 3 against 6ND"):
        st.dataframe(pd.DataFrame([{
            "parameters": _human(n), "tokens": _human(d), "FLOPs (paper)": f"{c:.2e}",
            "6ND": f"{sc.training_flops(n, d):.2e}", "tokens per parameter": round(d / n, 1)}
            for n, c, d in sc.PAPER_TABLE_3]), hide_index=True, width="stretch")
        st.caption("Hoffmann et al. 2022, Table 3 (Approach 1). The 67B row's 1.5T tokens are rounded: 5.76e23 "
                   "FLOPs / 6N gives 1.43T.")


def _sweep() -> None:
    s = st.session_state
    st.subheader("The same, measured on the tiny GPTs")
    st.markdown(f"Three tiny GPTs ({', '.join(sc.SWEEP_PRESETS)}) trained for {', '.join(map(str, sc.SWEEP_STEPS))} "
                f"steps of {sc.SWEEP_BATCH} × {sc.SWEEP_SEQ} tokens on the bundled corpus, held-out loss against "
                "6ND. The stored table was measured once (the losses are seeded and step-capped, so they do not "
                "depend on the machine's speed); add your own live run to the same chart.")
    c1, c2 = st.columns(2)
    c1.segmented_control("Model", list(sc.SWEEP_PRESETS), key="sc_preset", required=True)
    c2.select_slider("Steps", sc.SWEEP_STEPS, key="sc_steps")
    settings = (s.sc_preset, int(s.sc_steps))
    kept = explicit_run("Add a live run", "sc_run", "Training a sweep point", lambda: _live_point(*settings),
                        settings, help=f"Trains one point (at most {LIVE_SECONDS:.0f} s); it joins the chart.")
    runs = st.session_state.setdefault("sc_live", {})  # (model, steps asked) -> point; runs are seeded
    if kept is not None and kept[0] not in runs:
        runs[kept[0]] = kept[1]
        for old in list(runs)[:-MAX_LIVE]:
            del runs[old]
    live = list(runs.values())
    ui.chart(charts.sweep_chart, sc.measured_rows(), sc.measured_rows(live), width="stretch")
    st.caption(f"Stored sweep: {sc.SWEEP_MACHINE}, {sc.SWEEP_DATE}. Each point is a complete run with its own "
               "warm-up and cosine schedule (same learning rate for all). At equal tokens the bigger model is "
               "ahead of nano, but at equal compute nano is lowest as far as its runs go (8.7e11 FLOPs), micro "
               "beyond; tiny-lm, 2.5× bigger again, stays above micro over this whole range. At under 0.15 "
               "tokens per parameter all three are far from compute-optimal, the biggest farthest: the lower "
               "envelope of the lines is the compute-optimal frontier of this little world.")
    stored = {(p.model, p.steps): p for p in sc.MEASURED_SWEEP}
    for p in live:
        if p.stopped_by != "steps":
            st.info(f"Your {p.model} run was cut at {p.steps} steps by the {LIVE_SECONDS:.0f} s cap on this server: "
                    "its schedule had not finished, so it sits above where a complete run would.")
        elif (p.model, p.steps) in stored:
            ref = stored[(p.model, p.steps)]
            st.caption(f"Your {p.model} run of {p.steps} steps: held-out loss {p.heldout_loss:.4f}, stored "
                       f"{ref.heldout_loss:.4f} (|Δ| = {abs(p.heldout_loss - ref.heldout_loss):.1e}: the same seeded "
                       "run, reproduced).")


def render() -> None:
    st.markdown(
        "How good can a model get for a given amount of compute, and how should that compute be split between a "
        "bigger model and more data? Training costs about **6 FLOPs per parameter per token** (2 forward, 4 "
        "backward), and Chinchilla fitted how the loss falls with both:")
    st.latex(r"C \approx 6ND, \qquad L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}}, \quad "
             rf"E = {sc.E},\ A = {sc.A},\ B = {sc.B},\ \alpha = {sc.ALPHA},\ \beta = {sc.BETA}")
    st.latex(r"N_{opt}(C) = G\Big(\frac{C}{6}\Big)^{\frac{\beta}{\alpha+\beta}}, \quad "
             r"D_{opt}(C) = G^{-1}\Big(\frac{C}{6}\Big)^{\frac{\alpha}{\alpha+\beta}}, \quad "
             r"G = \Big(\frac{\alpha A}{\beta B}\Big)^{\frac{1}{\alpha+\beta}}")
    st.markdown("E is the entropy of text itself (no model beats it); the two other terms are what a finite model "
                "and finite data cost. Their conclusion: scale parameters and tokens **together**, about 20 tokens "
                "per parameter, where GPT-3 and Gopher had used fewer than 2.")
    bind(PARAMS)
    _calculator()
    _published()
    _sweep()
    ui.sync_params(PARAMS)
    ui.code_behind(sc.compute_optimal, sc.chinchilla_loss, sc.run_point)
    ui.papers(("Training Compute-Optimal Large Language Models, Chinchilla (Hoffmann et al. 2022)",
               "https://arxiv.org/abs/2203.15556"),
              ("Scaling Laws for Neural Language Models (Kaplan et al. 2020)", "https://arxiv.org/abs/2001.08361"),
              ("Chinchilla Scaling: A replication attempt (Besiroglu et al. 2024)", "https://arxiv.org/abs/2404.10102"))
