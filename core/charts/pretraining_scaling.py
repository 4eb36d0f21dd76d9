"""Charts for the Pretraining page's Scaling section: the Chinchilla law's isoFLOP curves and the tiny GPTs'
measured loss against compute. Pure functions: rows in, altair charts out; no Streamlit, no I/O.
"""
import altair as alt
import pandas as pd

MODEL_ORDER = ["nano", "micro", "tiny-lm"]


def _require(frame: pd.DataFrame, columns: set, who: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{who}: missing columns {sorted(missing)}")


def budget_label(flops: float) -> str:
    """budget_label(5.76e23) -> 'C = 5.8e+23'."""
    return f"C = {flops:.1e}"


def isoflop_chart(rows: list[dict], optima: list[dict], chosen: dict | None = None) -> alt.LayerChart:
    """Loss against N along each compute budget (log N), its minimum marked; `chosen` (a row with
    parameters and loss) is drawn as a red diamond: the learner's own model.

    rows: {flops, parameters, tokens, loss} (core.pretraining.scaling.isoflop_rows); optima: the same
    keys, one per budget.
    """
    frame = pd.DataFrame(rows)
    _require(frame, {"flops", "parameters", "tokens", "loss"}, "isoflop_chart")
    frame["budget"] = frame["flops"].map(budget_label)
    best = pd.DataFrame(optima)
    _require(best, {"flops", "parameters", "tokens", "loss"}, "isoflop_chart optima")
    best["budget"] = best["flops"].map(budget_label)
    order = [budget_label(c) for c in sorted(frame["flops"].unique())]
    x = alt.X("parameters:Q", scale=alt.Scale(type="log"), title="parameters N (log scale)")
    y = alt.Y("loss:Q", title="predicted loss L(N, D) (nats per token)", scale=alt.Scale(zero=False))
    colour = alt.Color("budget:N", sort=order, title="compute budget", scale=alt.Scale(scheme="viridis"))
    tip = [alt.Tooltip("parameters:Q", format=".3s"), alt.Tooltip("tokens:Q", format=".3s"),
           alt.Tooltip("loss:Q", format=".3f"), "budget:N"]
    layers = [alt.Chart(frame).mark_line().encode(x=x, y=y, color=colour, tooltip=tip),
              alt.Chart(best).mark_point(size=90, filled=True, shape="circle").encode(x=x, y=y, color=colour,
                                                                                      tooltip=tip)]
    if chosen is not None:
        layers.append(alt.Chart(pd.DataFrame([chosen])).mark_point(size=200, filled=True, shape="diamond",
                                                                   color="crimson").encode(x=x, y=y, tooltip=tip[:3]))
    return alt.layer(*layers).properties(width=560, height=320, title="isoFLOP curves: each budget has a best size")


def sweep_chart(measured: list[dict], live: list[dict] = ()) -> alt.LayerChart:
    """Held-out loss against training compute 6ND (log), one line per tiny model (the stored sweep), and
    the learner's live runs as large diamonds. Rows: core.pretraining.scaling.measured_rows."""
    frame = pd.DataFrame(measured, columns=["model", "parameters", "steps", "tokens", "flops", "heldout_loss",
                                            "stopped_by"])
    _require(frame, {"model", "flops", "heldout_loss"}, "sweep_chart")
    x = alt.X("flops:Q", scale=alt.Scale(type="log"), title="training compute 6·N·D (FLOPs, log scale)")
    y = alt.Y("heldout_loss:Q", title="held-out loss (nats per token)", scale=alt.Scale(zero=False))
    colour = alt.Color("model:N", sort=MODEL_ORDER, title="model")
    tip = ["model", alt.Tooltip("parameters:Q", format=","), "steps", alt.Tooltip("tokens:Q", format=","),
           alt.Tooltip("flops:Q", format=".3s"), alt.Tooltip("heldout_loss:Q", format=".3f")]
    layers = [alt.Chart(frame).mark_line(point=True).encode(x=x, y=y, color=colour, tooltip=tip)] if len(frame) else []
    if len(live):
        runs = pd.DataFrame(live)
        _require(runs, {"model", "flops", "heldout_loss"}, "sweep_chart live")
        layers.append(alt.Chart(runs).mark_point(size=220, filled=True, shape="diamond", stroke="black",
                                                 strokeWidth=1).encode(x=x, y=y, color=colour,
                                                                       tooltip=tip + ["stopped_by"]))
    if not layers:
        raise ValueError("sweep_chart: no measured points and no live runs")
    return alt.layer(*layers).properties(width=560, height=320,
                                         title="the tiny GPTs: loss against compute (diamonds: your live runs)")
