"""Charts for the Serving section: schedulers compared, the KV memory map, the block table,
batched generation. Pure functions: results in, altair charts out.

Every chart sends at most MAX_CHART_ROWS rows to the browser: the timeline is averaged over runs of
consecutive steps (core.inference.serving.downsample) and says so in its title; the memory map has
at most a few rows per KV block.
"""
import altair as alt
import numpy as np
import pandas as pd

from core.inference.serving import (
    MAX_TIMELINE_POINTS,
    MemorySnapshot,
    ServeResult,
    downsample,
)

MAX_CHART_ROWS = 5_000

SERVER_ORDER = ["static + contiguous", "static + paged", "continuous + contiguous", "continuous + paged"]


def comparison_frame(results: dict) -> pd.DataFrame:
    """{(policy, allocator): ServeResult} -> one row per server with its headline numbers."""
    rows = []
    for (policy, allocator), res in results.items():
        rows.append({"server": f"{policy} + {allocator}", "policy": policy, "allocator": allocator,
                     "throughput (tokens/s)": res.throughput, "p50 latency (s)": res.p50_ms / 1000,
                     "p99 latency (s)": res.p99_ms / 1000, "KV utilisation": res.kv_utilization,
                     "mean batch": res.mean_batch, "preemptions": res.preemptions,
                     "steps": res.n_steps})
    return pd.DataFrame(rows)


def comparison_chart(frame: pd.DataFrame) -> alt.HConcatChart:
    """Three bar panels side by side: throughput, p50/p99 latency, KV utilisation, one bar per server."""
    color = alt.Color("policy:N", title="scheduling", scale=alt.Scale(domain=["static", "continuous"]))
    y = alt.Y("server:N", sort=SERVER_ORDER, title=None)
    base = alt.Chart(frame).properties(width=220, height=150)
    throughput = base.mark_bar().encode(x=alt.X("throughput (tokens/s):Q"), y=y, color=color,
                                        tooltip=["server", alt.Tooltip("throughput (tokens/s):Q", format=",.0f")])
    latency_long = frame.melt(id_vars=["server", "policy"], value_vars=["p50 latency (s)", "p99 latency (s)"],
                              var_name="percentile", value_name="seconds")
    latency = alt.Chart(latency_long).mark_point(filled=True, size=90).encode(
        x=alt.X("seconds:Q", title="latency (s): ● p50  ◆ p99"), y=y, color=color,
        shape=alt.Shape("percentile:N", scale=alt.Scale(range=["circle", "diamond"]), legend=None),
        tooltip=["server", "percentile", alt.Tooltip("seconds:Q", format=".2f")],
    ).properties(width=220, height=150)
    utilisation = base.mark_bar().encode(
        x=alt.X("KV utilisation:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])), y=y,
        color=alt.Color("allocator:N", title="KV allocator"),
        tooltip=["server", alt.Tooltip("KV utilisation:Q", format=".1%")])
    return alt.hconcat(throughput, latency, utilisation).resolve_scale(color="independent")


def timeline_frame(res: ServeResult, max_points: int = MAX_TIMELINE_POINTS) -> tuple[pd.DataFrame, int]:
    """(per point: time (s), batch size, KV slots used and reserved, requests waiting; steps per point).

    A result with more than max_points points is averaged down further, so the frame never has more.
    """
    k = max(1, -(-len(res.step_end_ms) // max_points))
    frame = pd.DataFrame({"time (s)": res.step_end_ms[::k] / 1000, "batch": downsample(res.step_batch, k),
                          "used": downsample(res.step_used, k), "reserved": downsample(res.step_reserved, k),
                          "waiting": downsample(res.step_waiting, k)})
    return frame, k * res.steps_per_point


def timeline_chart(res: ServeResult, capacity: int) -> alt.VConcatChart:
    """KV slots used vs reserved over time (memory capacity as a rule), and batch size / queue over time.

    4 rows per point (two series in each panel): at most 4 · MAX_TIMELINE_POINTS + 1 rows in all.
    """
    frame, steps = timeline_frame(res)
    title = ("" if steps == 1 else
             f"{res.n_steps:,} steps drawn as {len(frame):,} points: each is the mean of {steps:,} consecutive steps")
    memory = frame.melt(id_vars="time (s)", value_vars=["reserved", "used"], var_name="KV slots", value_name="slots")
    area = alt.Chart(memory).mark_area(opacity=0.55, interpolate="step-after").encode(
        x=alt.X("time (s):Q"), y=alt.Y("slots:Q", stack=None, title="KV token slots"),
        color=alt.Color("KV slots:N", scale=alt.Scale(domain=["reserved", "used"], range=["#f2a65a", "#3b7dd8"])),
    )
    cap = alt.Chart(pd.DataFrame({"capacity": [capacity]})).mark_rule(strokeDash=[4, 3], color="gray").encode(y="capacity:Q")
    queue = frame.melt(id_vars="time (s)", value_vars=["batch", "waiting"], var_name="requests", value_name="count")
    lines = alt.Chart(queue).mark_line(interpolate="step-after").encode(
        x=alt.X("time (s):Q"), y=alt.Y("count:Q", title="requests"), color=alt.Color("requests:N"),
    )
    return alt.vconcat((area + cap).properties(height=170, width=700, title=title),
                       lines.properties(height=120, width=700)).resolve_scale(color="independent")


def memory_segments(snap: MemorySnapshot, row_slots: int = 1024) -> pd.DataFrame:
    """Run-length encode the slot map into (row, start, end, request, state) segments, wrapped every row_slots.

    state is 'token' (a cached K/V), 'reserved, empty' or 'free'. Segments also break at every block
    boundary, so the chart shows the block grid. Rows: at most one per block boundary, plus two per request
    (its edges) and one per state change inside a block, plus one per memory row: with the page's 1,024 blocks
    and 128 requests at most, under MAX_CHART_ROWS.
    """
    state = np.where(snap.owner < 0, 0, np.where(snap.filled, 2, 1))  # 0 free, 1 reserved-empty, 2 token
    key = snap.owner * 3 + state
    changes = np.flatnonzero(np.diff(key)) + 1
    block_edges = np.arange(snap.block_size, len(key), snap.block_size)
    boundaries = np.union1d(changes, block_edges)
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(key)]])
    names = ["free", "reserved, empty", "token"]
    rows = []
    for s, e in zip(starts, ends):
        while s < e:  # split a segment that crosses a row boundary
            row_end = min(e, (s // row_slots + 1) * row_slots)
            rows.append({"row": int(s // row_slots), "start": int(s % row_slots), "end": int(row_end - (s // row_slots) * row_slots),
                         "request": int(snap.owner[s]), "state": names[state[s]]})
            s = row_end
    return pd.DataFrame(rows)


def memory_map_chart(snap: MemorySnapshot, row_slots: int = 1024) -> alt.Chart:
    """Every KV slot of the GPU's memory, row by row: solid = holds a token, pale = reserved but empty."""
    frame = memory_segments(snap, row_slots)
    frame["who"] = np.where(frame["request"] < 0, "free", "request " + frame["request"].astype(str))
    return alt.Chart(frame).mark_rect(stroke="white", strokeWidth=0.3).encode(
        x=alt.X("start:Q", title="slot within row", scale=alt.Scale(domain=[0, row_slots])), x2="end:Q",
        y=alt.Y("row:O", title=f"memory row ({row_slots} slots)"),
        color=alt.condition("datum.request < 0", alt.value("#eeeeee"),
                            alt.Color("request:N", legend=None, scale=alt.Scale(scheme="tableau20"))),
        opacity=alt.Opacity("state:N", scale=alt.Scale(domain=["free", "reserved, empty", "token"], range=[1, 0.3, 1]),
                            legend=alt.Legend(title="slot")),
        tooltip=["who", "state", "start", "end"],
    ).properties(height=max(60, 22 * int(frame["row"].max() + 1)), width=700)


def block_table_frame(snap: MemorySnapshot) -> pd.DataFrame:
    """One row per (request, logical block): its physical block and how many of its slots hold tokens."""
    rows = []
    for rid, table in sorted(snap.block_tables.items()):
        cached = snap.cached.get(rid, 0)
        for logical, physical in enumerate(table):
            filled = min(snap.block_size, max(0, cached - logical * snap.block_size))
            rows.append({"request": f"request {rid}", "logical block": logical, "physical block": physical,
                         "filled slots": filled, "fill": filled / snap.block_size})
    return pd.DataFrame(rows, columns=["request", "logical block", "physical block", "filled slots", "fill"])


def block_table_chart(snap: MemorySnapshot) -> alt.LayerChart:
    """Requests x logical blocks, each cell labelled with the physical block it maps to."""
    frame = block_table_frame(snap)
    order = list(dict.fromkeys(frame["request"]))
    base = alt.Chart(frame).encode(x=alt.X("logical block:O"), y=alt.Y("request:N", sort=order, title=None))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("fill:Q", title="block filled", scale=alt.Scale(domain=[0, 1], scheme="blues"),
                        legend=alt.Legend(format="%")),
        tooltip=["request", "logical block", "physical block", "filled slots"],
    )
    text = base.mark_text(fontSize=10).encode(
        text="physical block:Q", color=alt.condition("datum.fill > 0.6", alt.value("white"), alt.value("black")))
    return (cells + text).properties(height=max(60, 18 * len(order)), width=alt.Step(26))


def throughput_frame(batch_sizes, tokens_per_s) -> pd.DataFrame:
    """Measured tokens/s per batch size, and perfect linear scaling from batch 1 for reference."""
    batch_sizes, tokens_per_s = list(batch_sizes), list(tokens_per_s)
    base = tokens_per_s[0] / batch_sizes[0]
    return pd.concat([
        pd.DataFrame({"batch size": batch_sizes, "tokens/s": tokens_per_s, "series": "measured"}),
        pd.DataFrame({"batch size": batch_sizes, "tokens/s": [base * b for b in batch_sizes],
                      "series": "linear scaling from batch 1"}),
    ], ignore_index=True)


def throughput_chart(batch_sizes, tokens_per_s) -> alt.Chart:
    """Tokens/s against batch size (log-log), measured vs perfect linear scaling."""
    frame = throughput_frame(batch_sizes, tokens_per_s)
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("batch size:Q", scale=alt.Scale(type="log", base=2)),
        y=alt.Y("tokens/s:Q", scale=alt.Scale(type="log")),
        strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=["measured", "linear scaling from batch 1"],
                                                               range=[[1, 0], [5, 4]])),
        tooltip=["series", "batch size", alt.Tooltip("tokens/s:Q", format=",.0f")],
    ).properties(height=260, width=520)
