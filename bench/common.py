"""What every benchmark shares: the Figure record, alternating timing, targets, the machine, the report."""
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_PATH = Path(__file__).resolve().parent / "results.json"

# figure key -> (comparison, threshold); the targets LLM Lab aims at (README, Performance)
TARGETS = {
    "kv_cache_speedup": (">=", 3.0),
    "int8_ppl_ratio": ("<=", 1.05),
    "int4_size_ratio": ("<=", 0.35),
    "int4_ppl_ratio": ("<=", 1.15),
    "speculative_speedup": (">=", 1.5),
    "continuous_batching_throughput_ratio": (">=", 2.0),
    "paged_kv_utilization": (">=", 0.90),
    "contiguous_kv_utilization": ("<", 0.50),
    "page_first_render_s_max": ("<=", 2.0),
    "engine_speedup_vs_generate": (">=", 3.0),
    "engine_roofline_fraction": (">=", 1 / 3),  # within 3x of the C-class bound
    "engine_kv_cache_speedup": (">=", 3.0),
    "engine_speculative_speedup": (">=", 1.5),
    "prompt_lookup_speedup": (">=", 1.5),
}
REQUIRED_KEYS = (
    "kv_cache_speedup", "int8_latency_ratio", "int8_ppl_ratio", "int4_size_ratio", "int4_ppl_ratio",
    "speculative_speedup", "speculative_acceptance", "continuous_batching_throughput_ratio",
    "paged_kv_utilization", "contiguous_kv_utilization", "decode_roofline_fraction", "decode_tokens_per_s",
    "train_tokens_per_s_bf16_ratio", "hnsw_recall_at_10", "hnsw_speedup", "page_first_render_s_max",
    "engine_tokens_per_s", "engine_speedup_vs_generate", "engine_roofline_fraction", "engine_kv_cache_speedup",
    "engine_speculative_speedup", "engine_speculative_acceptance", "prompt_lookup_speedup", "engine_verify_cost_ratio",
)


@dataclass
class Figure:
    key: str
    value: float | None  # None when the benchmark failed (see note)
    unit: str  # "x" for a ratio, "fraction", "tokens/s", "s"
    repetitions: int
    what: str  # one line: what was measured against what
    note: str = ""  # why a target was missed, or what failed
    details: dict = field(default_factory=dict)  # the raw sides of the ratio, configs, per-rep values

    @property
    def target(self) -> str:
        op, threshold = TARGETS.get(self.key, ("", None))
        return f"{op} {threshold:g}" if op else ""

    @property
    def met(self) -> bool | None:
        if self.key not in TARGETS or self.value is None:
            return None
        op, threshold = TARGETS[self.key]
        return {">=": self.value >= threshold, "<=": self.value <= threshold, "<": self.value < threshold}[op]

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("key")
        out["target"], out["met"] = self.target, self.met
        return out


def alternate(fns: dict[str, Callable[[], object]], reps: int, warmup: bool = True) -> dict[str, list[float]]:
    """Time each function once per round, in turn, for `reps` rounds; the order rotates every round.

    Returns {name: [seconds per round]}. A warm-up call of each comes first (not timed).
    """
    names = list(fns)
    if warmup:
        for name in names:
            fns[name]()
    times = {name: [] for name in names}
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def median(values) -> float:
    return float(statistics.median(values))


def machine_info() -> dict:
    """CPU model (from /proc/cpuinfo), cores, torch version and threads, Python, OS."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "platform": platform.platform()}


def format_value(fig: Figure) -> str:
    if fig.value is None:
        return "failed"
    if fig.unit == "x":
        return f"{fig.value:.3f}x" if fig.value < 10 else f"{fig.value:.1f}x"
    if fig.unit == "fraction":
        return f"{fig.value:.1%}"
    if fig.unit == "s":
        return f"{fig.value:.2f} s"
    return f"{fig.value:,.0f} {fig.unit}"


def format_table(figures: list[Figure]) -> str:
    """A plain-text (and Markdown) table: figure, value, target, met, reps, what."""
    rows = [("figure", "value", "target", "met", "reps", "what")]
    for fig in figures:
        met = {True: "yes", False: "NO", None: ""}[fig.met]
        rows.append((fig.key, format_value(fig), fig.target, met, str(fig.repetitions), fig.what))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(figures: list[Figure], machine: dict, quick: bool, seconds: float, path: Path = RESULTS_PATH) -> dict:
    """Write the JSON report (every required key present, None where a benchmark failed) and return it."""
    by_key = {f.key: f for f in figures}
    for key in REQUIRED_KEYS:
        if key not in by_key:
            by_key[key] = Figure(key, None, "", 0, "not run", note="not run in this invocation (see --only)")
    data = {
        "machine": machine, "quick": quick, "seconds": round(seconds, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "figures": {key: _clean(fig.to_json()) for key, fig in by_key.items()},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def _clean(obj):
    """JSON has no NaN or infinity: write them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
