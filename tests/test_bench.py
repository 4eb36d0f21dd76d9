"""The benchmark suite's cheap parts: serving figures on a tiny trace, timing helper, JSON report, table.

No timed assertion here: timings are checked for shape and sign only.
"""
import json

import pytest

from bench import common, pages
from bench import serving as bench_serving
from bench.__main__ import BENCHMARKS, main
from core.inference.serving import ServeConfig
from core.inference.traces import TraceConfig


def test_serving_figures_on_a_tiny_trace():
    trace = TraceConfig(n_requests=40, rate=200.0, prompt_mean=24, output_mean=24, max_new_tokens=96, bursty=True, burst_size=8)
    figs = {f.key: f for f in bench_serving.figures(trace, ServeConfig(num_blocks=64, block_size=8), seeds=(0, 1))}
    assert set(figs) == set(BENCHMARKS["serving"])
    ratio = figs["continuous_batching_throughput_ratio"]
    assert ratio.unit == "x" and ratio.repetitions == 2 and ratio.value >= 1.0
    assert ratio.value == pytest.approx(sorted(ratio.details["per_seed"])[0] / 2 + sorted(ratio.details["per_seed"])[1] / 2)
    for key in ("paged_kv_utilization", "contiguous_kv_utilization"):
        assert figs[key].unit == "fraction" and 0 < figs[key].value <= 1
    assert figs["paged_kv_utilization"].value > figs["contiguous_kv_utilization"].value


def test_alternate_times_every_function_each_round():
    calls = []
    times = common.alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, reps=3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then the order rotates each round
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for v in times.values() for t in v)


def test_targets_and_formatting():
    fig = common.Figure("kv_cache_speedup", 3.5, "x", 5, "no cache / cache")
    assert fig.target == ">= 3" and fig.met is True
    assert common.Figure("contiguous_kv_utilization", 0.5, "fraction", 1, "").met is False
    assert common.Figure("decode_tokens_per_s", 250.0, "tokens/s", 3, "").met is None
    assert common.Figure("kv_cache_speedup", None, "x", 0, "", note="boom").met is None
    assert common.format_value(common.Figure("a", 0.971, "fraction", 1, "")) == "97.1%"
    assert common.format_value(common.Figure("a", 1234.5, "tokens/s", 1, "")) == "1,234 tokens/s"
    assert common.format_value(common.Figure("a", 12.34, "x", 1, "")) == "12.3x"
    table = common.format_table([fig, common.Figure("paged_kv_utilization", 0.8, "fraction", 3, "paged")]).splitlines()
    assert table[0].startswith("| figure") and set(table[1]) <= {"|", "-"}
    assert "| 3.500x" in table[2] and "| yes" in table[2] and "| NO" in table[3]
    assert len({len(line) for line in table}) == 1  # aligned columns


def test_report_has_every_required_key(tmp_path):
    figs = [common.Figure("kv_cache_speedup", 4.0, "x", 3, "no cache / cache", details={"nan": float("nan")})]
    path = tmp_path / "results.json"
    data = common.report(figs, common.machine_info(), quick=True, seconds=1.0, path=path)
    on_disk = json.loads(path.read_text())
    assert on_disk == data
    assert set(on_disk["figures"]) == set(common.REQUIRED_KEYS)
    kv = on_disk["figures"]["kv_cache_speedup"]
    assert kv["value"] == 4.0 and kv["unit"] == "x" and kv["repetitions"] == 3 and kv["met"] is True
    assert kv["details"]["nan"] is None  # JSON has no NaN
    assert on_disk["figures"]["hnsw_speedup"]["value"] is None
    machine = on_disk["machine"]
    assert machine["cores"] >= 1 and machine["torch"] and machine["cpu"]


def test_every_required_key_has_a_benchmark():
    produced = [key for keys in BENCHMARKS.values() for key in keys]
    assert sorted(produced) == sorted(common.REQUIRED_KEYS)


def test_home_pages_are_found():
    found = pages.home_pages()
    assert "app_pages/home.py" in found and "app_pages/inference.py" in found
    assert len(found) == len(set(found))


def test_cli_runs_one_benchmark(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["--quick", "--only", "serving", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["quick"] is True
    assert data["figures"]["continuous_batching_throughput_ratio"]["value"] >= 1.0
    assert data["figures"]["kv_cache_speedup"]["note"].startswith("not run")
    printed = capsys.readouterr().out
    assert "| continuous_batching_throughput_ratio" in printed and str(out) in printed
