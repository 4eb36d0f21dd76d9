"""Pretraining · Parallelism: real data parallelism across two processes (torch.distributed, gloo), its
gradients shown equal to one process's; a GPipe schedule and its bubble; Megatron's tensor-parallel MLP split,
checked; and a ZeRO memory calculator against the paper's figure (core.pretraining.parallel).
"""
import pandas as pd
import streamlit as st

import ui
from core.charts import pretraining_depth as charts
from core.pretraining import parallel as par
from core.state import Param
from ui.pretraining import bind, explicit_run

LRS = (0.1, 0.5, 1.0)
DP_TIMEOUT_S = 60.0  # process start-up included: each process imports torch
PAPER_FIGURE_1 = {"psi": 7.5e9, "n_d": 64, "k": 12, "GB": (120.0, 31.4, 16.6, 1.9)}  # Rajbhandari et al. 2019
PARAMS = [
    Param("par_batch", 16, 2, par.MAX_BATCH, step=2),
    Param("par_seq", 32, 8, par.MAX_SEQ, step=8),
    Param("par_steps", 3, 1, par.MAX_DP_STEPS, step=1),
    Param("par_lr", 0.5, choices=LRS),
    Param("pp_stages", 4, 1, 16, step=1),
    Param("pp_micro", 4, 1, 64, step=1),
    Param("tp_devices", 2, choices=(1, 2, 4, 8)),
    Param("zero_psi", 7.5, 0.1, 2000.0, step=0.1),  # billions of parameters
    Param("zero_nd", 64, 1, 4096, step=1),
    Param("zero_k", 12, 0, 32, step=1),
]


# An entry holds three gradients of 275k floats: ~4 MB.
@ui.cached_compute(max_entries=8, max_size="48MB")
def _data_parallel(batch: int, seq: int, steps: int, lr: float) -> par.DataParallelResult:
    return par.data_parallel(batch, seq, steps, lr, timeout_s=DP_TIMEOUT_S)


def _data_parallel_section() -> None:
    s = st.session_state
    st.subheader("Data parallelism, for real: two processes")
    st.markdown(
        "Each process holds a full copy of the model and takes **half of every batch**. After backward, the two "
        "gradients are **all-reduced** (summed, then divided by 2) over `torch.distributed` with the gloo backend "
        "(TCP on 127.0.0.1), so both copies take the same step. One process training on the full batches, from "
        "the same initial weights, is the reference.")
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Batch B (split in two)", 2, par.MAX_BATCH, step=2, key="par_batch")
    c2.slider("Window T", 8, par.MAX_SEQ, step=8, key="par_seq")
    c3.slider("SGD steps", 1, par.MAX_DP_STEPS, key="par_steps")
    c4.select_slider("Learning rate", LRS, key="par_lr")
    settings = (int(s.par_batch), int(s.par_seq), int(s.par_steps), float(s.par_lr))
    try:
        kept = explicit_run("Run on two processes", "par_run", "Starting two processes",
                            lambda: _data_parallel(*settings), settings,
                            help=f"Starts two Python processes (a few seconds each to import torch); killed after "
                                 f"{DP_TIMEOUT_S:.0f} s.")
    except (TimeoutError, RuntimeError) as err:
        st.warning(f"The two-process run failed on this server: {err}. Try again in a moment.")
        return
    if kept is None:
        st.info("Click **Run on two processes** to train the tiny next-token model data-parallel and compare.")
        return
    ran_with, dp = kept
    if ran_with != settings:
        st.caption(f"Shown: the last run (B = {ran_with[0]}, T = {ran_with[1]}, {ran_with[2]} steps, "
                   f"lr {ran_with[3]}).")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("max |all-reduced − one process's| gradient", f"{dp.grad_max_diff:.1e}")
    c2.metric("one half-batch alone is off by", f"{dp.local_max_diff:.1e}")
    c3.metric("weights, process 0 vs 1", f"{dp.ranks_weight_diff:.1e}", "bit-identical" if dp.ranks_weight_diff == 0
              else "differ", delta_color="off")
    c4.metric(f"weights after {len(dp.single_losses)} steps vs one process", f"{dp.weight_max_diff:.1e}")
    ui.chart(charts.gradient_agreement_chart, dp, width="stretch")
    losses = pd.DataFrame({"step": range(1, len(dp.single_losses) + 1), "one process, full batch": dp.single_losses,
                           **{f"process {r}, its half": list(l) for r, l in enumerate(dp.rank_losses)}})
    st.dataframe(losses.round(4), hide_index=True)
    st.caption(f"{dp.parameters:,} parameters (embedding 4,096 × 32, an MLP block, lm_head). Equal halves make the "
               "mean of the two half-batch means the full-batch mean, so the all-reduced gradient equals one "
               "process's full-batch gradient up to float rounding; each half alone does not. Wall time "
               f"{dp.seconds:.1f} s on this server, mostly starting the processes. DDP does the same with "
               "gradients in buckets, overlapping the all-reduce with the rest of backward.")


def _pipeline_section() -> None:
    s = st.session_state
    st.subheader("Pipeline parallelism: the GPipe bubble")
    st.markdown("Cut the layers into **p stages** on p devices and the batch into **m micro-batches**. Stage s "
                "can start a micro-batch only when stage s − 1 has finished it, so the pipeline fills and drains: "
                "idle time, the **bubble**.")
    c1, c2 = st.columns(2)
    c1.slider("Stages p (devices)", 1, 16, key="pp_stages")
    c2.slider("Micro-batches m", 1, 64, key="pp_micro")
    p, m = int(s.pp_stages), int(s.pp_micro)
    st.metric("bubble: idle share of every device", f"{par.bubble_fraction(p, m):.1%}",
              f"(p − 1) / (m + p − 1) = {p - 1} / {m + p - 1}", delta_color="off")
    ui.chart(charts.gpipe_schedule_chart, par.gpipe_schedule(p, m), width="stretch")
    st.caption("Blue: forward of a micro-batch (its number), orange: backward; gaps are the bubble. GPipe "
               "keeps it small with m ≥ 4p; 1F1B schedules keep the same bubble with less activation memory.")
    ui.chart(charts.bubble_chart, par.bubble_table(stages=tuple(sorted({2, 4, 8, p}))), width="stretch")


def _tensor_section() -> None:
    st.subheader("Tensor parallelism: Megatron's MLP split")
    st.segmented_control("Devices", (1, 2, 4, 8), key="tp_devices", required=True)
    check = par.megatron_mlp_check(int(st.session_state.tp_devices), tokens=4, hidden=8)
    st.markdown("Z = GeLU(X A) B with A split **by columns** and B **by rows**: device i computes "
                "Z_i = GeLU(X A_i) B_i on its own, with no communication, and one all-reduce sums Z = Σ Z_i.")
    st.dataframe(pd.DataFrame({"on one device": list(check.shapes), "shape": [str(v) for v in check.shapes.values()]}),
                 hide_index=True)
    c1, c2 = st.columns(2)
    c1.metric("max |Σ_i Z_i − Z| (float64)", f"{check.max_diff:.1e}", f"|Z| up to {check.output_scale:.1f}",
              delta_color="off")
    c2.metric("A split by rows instead", f"{check.wrong_split_diff:.2f}",
              "GeLU of partial sums ≠ GeLU of the sum" if check.n_devices > 1 else "one device: nothing split",
              delta_color="off")
    st.caption("GeLU acts on each column on its own, so the column blocks of X A never need each other. Attention "
               "splits the same way, by heads. Cost: two all-reduces per layer in forward, so tensor parallelism "
               "stays inside one server's fast links.")


def _zero_section() -> None:
    s = st.session_state
    st.subheader("ZeRO: memory per device")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Parameters Ψ (billions)", 0.1, 2000.0, step=0.1, key="zero_psi")
    c2.number_input("Data-parallel devices N_d", 1, 4096, key="zero_nd")
    c3.number_input("Optimizer bytes per parameter K", 0, 32, key="zero_k",
                    help="Mixed-precision Adam: FP32 master weights, momentum and variance, 4 + 4 + 4 = 12.")
    psi, n_d, k = float(s.zero_psi) * 1e9, int(s.zero_nd), int(s.zero_k)
    memory = par.zero_memory(psi, n_d, k)
    ui.chart(charts.zero_chart, memory, width="stretch")
    is_paper = (psi, n_d, k) == (PAPER_FIGURE_1["psi"], PAPER_FIGURE_1["n_d"], PAPER_FIGURE_1["k"])
    st.dataframe(pd.DataFrame([{
        "stage": stage, "parameters": charts.human_bytes(parts["parameters"]),
        "gradients": charts.human_bytes(parts["gradients"]),
        "optimizer states": charts.human_bytes(parts["optimizer states"]),
        "total per device": charts.human_bytes(parts["total"]),
        "paper, Figure 1": f"{paper} GB" if is_paper else "—"}
        for (stage, parts), paper in zip(memory.items(), PAPER_FIGURE_1["GB"])]), hide_index=True, width="stretch")
    st.caption("Per parameter, mixed-precision Adam keeps 2 bytes of FP16 weights, 2 of FP16 gradients and K of "
               "FP32 optimizer state. Plain data parallelism replicates all of it; ZeRO-1 partitions the optimizer "
               "state over the N_d devices, ZeRO-2 the gradients too, ZeRO-3 the weights too (fetched layer by "
               "layer when needed). "
               + ("These are the paper's own settings: its figure's numbers are beside the computed ones."
                  if is_paper else "Set Ψ = 7.5, N_d = 64, K = 12 to compare with the paper's Figure 1.")
               + " Activations are not counted.")
    st.latex(r"\text{baseline: } (2 + 2 + K)\Psi, \quad \text{ZeRO-1: } 4\Psi + \frac{K\Psi}{N_d}, \quad "
             r"\text{ZeRO-2: } 2\Psi + \frac{(2 + K)\Psi}{N_d}, \quad \text{ZeRO-3: } \frac{(2 + 2 + K)\Psi}{N_d}")


def render() -> None:
    st.markdown(
        "A 70B model needs over a terabyte for its weights, gradients and Adam states alone, and months on one "
        "GPU. Training splits the work three ways: the **data** (every device a full copy, a share of the batch), "
        "the **layers** (pipeline stages), and the **matrices** (tensor parallelism), and ZeRO removes the copies "
        "that data parallelism keeps of everything.")
    bind(PARAMS)
    _data_parallel_section()
    _pipeline_section()
    _tensor_section()
    _zero_section()
    ui.sync_params(PARAMS)
    ui.code_behind(par.data_parallel, par._worker, par.bubble_fraction, par.megatron_mlp_check, par.zero_memory)
    ui.papers(("PyTorch Distributed: DDP (Li et al. 2020)", "https://arxiv.org/abs/2006.15704"),
              ("GPipe (Huang et al. 2018)", "https://arxiv.org/abs/1811.06965"),
              ("Megatron-LM (Shoeybi et al. 2019)", "https://arxiv.org/abs/1909.08053"),
              ("ZeRO (Rajbhandari et al. 2019)", "https://arxiv.org/abs/1910.02054"))
