"""Where a tiny model's decode time goes, measured in one run: a tokens/s ladder, and what verification costs.

Three measurements on the same greedy tokens of tiny-lm (batch 1), each against the bound that would hold if
only arithmetic or memory traffic mattered:

1. the ladder: transformers' `model.generate`, our engine (core.inference.engine), and the roofline
   min(FLOP/s / 2N, bandwidth / bytes per token), with FLOP/s from a large matmul and bandwidth from a large
   copy timed in the same rounds. Rounds alternate (each function once per round, the order rotating), so
   background load on a shared machine hits every rung alike;
2. the verification cost: one engine pass over T = 1, 2, 3, 5, 9 new tokens after a cached context
   (Engine.extend), as r(T) = t(T) / t(1). Speculative decoding checks k = T - 1 drafted tokens in one such
   pass, so a free draft that is always right (an "oracle") gives at most T / r(T);
3. the arithmetic for a big model on a GPU (no measurement), where r(T) stays about 1 for T in the hundreds.

With acceptance rate alpha, a draft step costing c target steps and a verification pass costing r(k + 1)
target steps, a round of k drafted tokens yields (1 - alpha^(k+1)) / (1 - alpha) tokens for k c + r(k + 1)
step costs (Leviathan et al. 2022, eq. 1 and Theorem 3.8, with their "verification costs one step" made r).
Shapes: input_ids (1, T); the engine's logits over a pass (1, T, V).

Work budget: new tokens are cut to [MIN_NEW_TOKENS, MAX_NEW_TOKENS], rounds to MAX_ROUNDS, and no new round
starts after `max_seconds` of work (the first round of each part always runs), so a run stays under a minute.

Papers: Leviathan et al. 2022, https://arxiv.org/abs/2211.17192 ; roofline model (Williams et al. 2009),
https://doi.org/10.1145/1498765.1498785
"""
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import pandas as pd
import torch

from core.inference import batching
from core.inference.engine import Engine, EngineConfig
from core.inference.engine_profile import (
    DecodeProfile,
    hf_greedy,
    profile_pair,
    torch_threads,
)

MIN_NEW_TOKENS, MAX_NEW_TOKENS, MAX_ROUNDS = 8, 128, 5
VERIFY_TS = (1, 2, 3, 5, 9)  # tokens in one verification pass: k = 0, 1, 2, 4, 8 drafted tokens
VERIFY_CALLS = 10  # extend calls per T per round (one call is a few ms: too short to time alone)
MATMUL_N, COPY_BYTES = 1024, 64 * 2**20  # a (1024 x 1024) @ (1024 x 1024) matmul, a 64 MiB copy (past the caches)
PROFILE_TOKENS = 64  # the most tokens profiled: reading back ~1,900 operations a token takes longer than running them
MAX_SECONDS = 45.0  # of work per run, profiling included: no new round starts after it

OnProgress = Callable[[float, str], object]


@dataclass(frozen=True)
class RunConfig:
    new_tokens: int = 48
    rounds: int = 3
    max_seconds: float = MAX_SECONDS

    def clamped(self) -> "RunConfig":
        """The same run inside the work budget: RunConfig(999, 99).clamped() -> RunConfig(128, 5, 45.0)."""
        return RunConfig(max(MIN_NEW_TOKENS, min(MAX_NEW_TOKENS, int(self.new_tokens))),
                         max(1, min(MAX_ROUNDS, int(self.rounds))), min(MAX_SECONDS, float(self.max_seconds)))


def alternate(fns: dict[str, Callable[[], object]], rounds: int, deadline: float = float("inf"),
              on_round: Callable[[int], object] | None = None) -> dict[str, list[float]]:
    """Time each function once per round, in turn, the order rotating every round; {name: [seconds per round]}.

    One untimed warm-up call of each comes first. No round starts after time.perf_counter() passes `deadline`
    (the first always runs); on_round(i) is called after round i (i from 1).
    """
    names = list(fns)
    for name in names:
        fns[name]()
    times = {name: [] for name in names}
    for i in range(rounds):
        if i and time.perf_counter() > deadline:
            break
        for name in names[i % len(names):] + names[: i % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
        if on_round is not None:
            on_round(i + 1)
    return times


# ---- the ladder: transformers, our engine, the roofline --------------------------------------------------
def kv_bytes_per_token(cfg: EngineConfig, mean_context: float) -> float:
    """Bytes of keys and values one decode step reads at a given context length (FP32): 2 L H_kv D 4 t."""
    return 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * 4 * mean_context


def roofline(n_params: int, flops: float, bandwidth: float, kv_bytes: float = 0.0,
             bytes_per_param: float = 4) -> tuple[float, float]:
    """(FLOP bound, memory bound) on batch-1 decode tokens/s: 2N FLOP per token; N weights plus the KV cache read.

    roofline(7e9, 989e12, 3.35e12, bytes_per_param=2) -> (about 70,600, about 239): a 7B model in BF16 on an
    H100 SXM is bandwidth-bound at batch 1.
    """
    flop_bound, _ = batching.roofline_tokens_per_s(n_params, flops, bandwidth)
    return flop_bound, bandwidth / (bytes_per_param * n_params + kv_bytes)


@dataclass(frozen=True)
class Ladder:
    new_tokens: int
    planned_rounds: int
    seconds: dict  # rung -> (seconds per round, ...): "generate", "generate_1thread" (if threads > 1), "engine",
    # "matmul", "copy"
    n_params: int
    kv_bytes: float  # KV cache bytes a step reads at the mean context
    generate_threads: int  # torch threads model.generate ran with (the process's)
    engine_threads: int
    same_tokens: bool  # the engine's greedy tokens equal model.generate's

    @property
    def rounds(self) -> int:
        return len(self.seconds["engine"])

    @property
    def stopped_early(self) -> bool:
        return self.rounds < self.planned_rounds

    def tokens_per_s(self, rung: str) -> float:
        """Median tokens/s of 'generate', 'generate_1thread' or 'engine' over the rounds."""
        return self.new_tokens / statistics.median(self.seconds[rung])

    @property
    def best_generate(self) -> float:
        """model.generate's tokens/s at its faster thread count: the baseline, with no credit for a bad setting."""
        return max(self.tokens_per_s(r) for r in ("generate", "generate_1thread") if r in self.seconds)

    @property
    def flops(self) -> float:
        return 2 * MATMUL_N**3 / statistics.median(self.seconds["matmul"])

    @property
    def bandwidth(self) -> float:
        return 2 * COPY_BYTES / statistics.median(self.seconds["copy"])  # read + write

    @property
    def bounds(self) -> tuple[float, float]:
        """(FLOP bound, memory bound) in tokens/s, from this run's matmul and copy."""
        return roofline(self.n_params, self.flops, self.bandwidth, self.kv_bytes)


def measure_ladder(model, engine: Engine, input_ids: torch.Tensor, cfg: RunConfig, deadline: float = float("inf"),
                   on_round: Callable[[int], object] | None = None) -> Ladder:
    """model.generate (at the process's threads, and at one if that is more), the engine, a matmul and a copy,
    timed in alternating rounds. Inputs: ids (1, T)."""
    n = cfg.new_tokens
    same = torch.equal(hf_greedy(model, input_ids, n), engine.generate(input_ids, n, stop_at_eos=False))
    a, b = torch.randn(MATMUL_N, MATMUL_N), torch.randn(MATMUL_N, MATMUL_N)
    src = torch.ones(COPY_BYTES // 4)
    dst = torch.empty_like(src)

    def generate_1thread():
        with torch_threads(1):
            hf_greedy(model, input_ids, n)

    fns = {"generate": lambda: hf_greedy(model, input_ids, n)}
    if torch.get_num_threads() > 1:  # a second thread can slow a tiny model down: time both, take the faster
        fns["generate_1thread"] = generate_1thread
    fns |= {"engine": lambda: engine.generate(input_ids, n, stop_at_eos=False),
            "matmul": lambda: a @ b, "copy": lambda: dst.copy_(src)}
    times = alternate(fns, cfg.rounds, deadline, on_round)
    n_params = sum(p.numel() for p in model.parameters())
    kv = kv_bytes_per_token(engine.cfg, input_ids.size(1) + n / 2)
    return Ladder(n, cfg.rounds, {k: tuple(v) for k, v in times.items()}, n_params, kv, torch.get_num_threads(),
                  engine.threads or torch.get_num_threads(), same)


# ---- the verification cost -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    Ts: tuple[int, ...]  # tokens per pass
    ms: tuple[float, ...]  # ms of one target pass over T new tokens, per T (the fastest round's mean)
    context: int  # cached tokens before the pass
    draft_ms: float | None  # one draft pass over one token, or None without a draft
    rounds: int
    planned_rounds: int

    @property
    def ratios(self) -> tuple[float, ...]:
        """r(T) = t(T) / t(1): a pass over T tokens in one-token passes (1.0 at T = 1)."""
        return tuple(ms / self.ms[0] for ms in self.ms)

    @property
    def ceilings(self) -> tuple[float, ...]:
        """T / r(T): the speedup of an oracle draft (free, always right) checking k = T - 1 tokens per pass."""
        return tuple(T / r for T, r in zip(self.Ts, self.ratios))

    @property
    def draft_cost(self) -> float | None:
        """c: a draft step in target steps."""
        return None if self.draft_ms is None else self.draft_ms / self.ms[0]


def expected_speedup(alpha: float, k: int, c: float, r: float) -> float:
    """Leviathan et al.'s expected speedup with a verification pass costing r one-token passes.

    (1 - alpha^(k+1)) / ((1 - alpha)(k c + r)); alpha = 1 gives (k + 1) / (k c + r).
    expected_speedup(1.0, 4, 0.0, 2.5) -> 2.0: five tokens per round for the price of 2.5 steps.
    """
    tokens = k + 1 if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
    return tokens / (k * c + r)


def measure_verification(engine: Engine, context_ids: torch.Tensor, Ts=VERIFY_TS, rounds: int = 3,
                         draft: Engine | None = None, deadline: float = float("inf"),
                         on_round: Callable[[int], object] | None = None) -> Verification:
    """Time of engine.extend over T new tokens after a cached context, for each T: the fastest of alternating
    rounds (each a mean over VERIFY_CALLS calls), since background load on a shared machine only ever adds time.

    context_ids (1, P + max(Ts)): the first P tokens are cached once; each timed pass rewrites positions
    P .. P + T - 1 with the next T real tokens (the cache before P never changes, so every call sees the same
    state). With a draft engine, its one-token pass is timed in the same rounds.
    """
    Ts = tuple(Ts)
    P = context_ids.size(1) - max(Ts)
    if P < 1:
        raise ValueError(f"need more than {max(Ts)} context tokens; got {context_ids.size(1)}")
    engines = [engine] + ([draft] if draft is not None else [])
    for e in engines:
        e.extend(context_ids[:, :P], 0)  # the cached context

    def passes(e: Engine, T: int):
        new = context_ids[:, P:P + T]  # (1, T)
        return lambda: [e.extend(new, P) for _ in range(VERIFY_CALLS)]

    fns = {T: passes(engine, T) for T in Ts} | ({"draft": passes(draft, 1)} if draft is not None else {})
    times = alternate(fns, rounds, deadline, on_round)
    ms = {name: 1000 * min(t) / VERIFY_CALLS for name, t in times.items()}
    return Verification(Ts, tuple(ms[T] for T in Ts), P, ms.get("draft"), len(times[Ts[0]]), rounds)


# ---- one run: the profile, the ladder, the verification cost ---------------------------------------------
@dataclass(frozen=True)
class TimeBudget:
    profiles: tuple[DecodeProfile, DecodeProfile]  # model.generate, our engine
    ladder: Ladder
    verification: Verification
    work_seconds: float
    max_seconds: float


def measure(model, engine: Engine, input_ids: torch.Tensor, cfg: RunConfig = RunConfig(), draft: Engine | None = None,
            on_progress: OnProgress | None = None) -> TimeBudget:
    """The section's whole measurement, inside cfg's work budget. on_progress(fraction, message) after each piece.

    The profile covers min(new_tokens, PROFILE_TOKENS) tokens; the ladder and the verification rounds stop
    starting once cfg.max_seconds of work have passed since the start (each runs at least one round).
    """
    cfg = cfg.clamped()
    report = on_progress or (lambda fraction, message: None)
    start = time.perf_counter()
    deadline = start + cfg.max_seconds
    report(0.02, "profiling model.generate and our engine")
    profiles = profile_pair(model, engine, input_ids, min(cfg.new_tokens, PROFILE_TOKENS))
    report(0.3, "tokens/s ladder: warming up")
    ladder = measure_ladder(model, engine, input_ids, cfg, deadline,
                            lambda i: report(0.3 + 0.4 * i / cfg.rounds, f"tokens/s ladder: round {i} of {cfg.rounds}"))
    context = engine.generate(input_ids, max(VERIFY_TS) + 32, stop_at_eos=False)  # (1, T + 41) real tokens
    report(0.72, "verification passes: warming up")
    rounds = 2 * cfg.rounds  # short passes: cheap rounds, and more of them steady the fastest
    verification = measure_verification(
        engine, context, VERIFY_TS, rounds, draft, deadline,
        lambda i: report(0.72 + 0.28 * i / rounds, f"verification passes: round {i} of {rounds}"))
    return TimeBudget(profiles, ladder, verification, time.perf_counter() - start, cfg.max_seconds)


# ---- the same arithmetic for a big model on a GPU (nothing measured) ---------------------------------------
def pass_ratio_roofline(T: int, n_params: float, bytes_per_param: float, bandwidth: float, flops: float) -> float:
    """r(T) by the roofline: a pass over T tokens takes max(weight bytes / bandwidth, 2 N T / FLOP/s).

    pass_ratio_roofline(9, 7e9, 2, 3.35e12, 989e12) -> 1.0: nine tokens cost one weight read.
    """
    def seconds(t: int) -> float:
        return max(bytes_per_param * n_params / bandwidth, 2 * n_params * t / flops)

    return seconds(T) / seconds(1)


def compute_bound_tokens(bytes_per_param: float, bandwidth: float, flops: float) -> float:
    """The T where a pass's arithmetic takes as long as its weight read: FLOP/s x bytes per weight / (2 bandwidth)."""
    return flops * bytes_per_param / (2 * bandwidth)


# ---- charts: pure functions, a DataFrame in (columns in each docstring), an altair chart out --------------
KIND_COLOURS = {"python & framework": "#9E9E9E", "matmul": "#4C5FD5", "attention": "#2A9D8F",
                "sampling": "#E9C46A", "norms & elementwise": "#F4A261", "views & copies": "#E76F51",
                "other ops": "#B8BFEA"}


def _need(df: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"chart needs columns {columns}; missing {missing}")


def profile_chart(df: pd.DataFrame) -> alt.Chart:
    """Stacked bars, one per run, of ms per token by kind of work. Columns: name, kind, ms per token, share."""
    _need(df, ["name", "kind", "ms per token", "share"])
    kinds = [k for k in KIND_COLOURS if k in set(df["kind"])]
    df = df.assign(order=df["kind"].map({k: i for i, k in enumerate(kinds)}))
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("name:N", title=None, sort=list(dict.fromkeys(df["name"]))),
        x=alt.X("ms per token:Q", title="ms per token (under the profiler)", stack="zero"),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=kinds, range=[KIND_COLOURS[k] for k in kinds]),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        order=alt.Order("order:Q"),
        tooltip=["name", "kind", alt.Tooltip("ms per token:Q", format=".3f"), alt.Tooltip("share:Q", format=".0%")],
    ).properties(height=alt.Step(40))


def ladder_frame(ladder: Ladder) -> pd.DataFrame:
    """The ladder's rungs: rung, tokens/s, what (measured or computed)."""
    flop_bound, memory_bound = ladder.bounds
    one = [{"rung": "model.generate (1 thread)", "tokens/s": ladder.tokens_per_s("generate_1thread"),
            "what": "measured"}] if "generate_1thread" in ladder.seconds else []
    return pd.DataFrame([
        {"rung": f"model.generate ({ladder.generate_threads} thread(s))", "tokens/s": ladder.tokens_per_s("generate"),
         "what": "measured"}, *one,
        {"rung": f"our engine ({ladder.engine_threads} thread(s))", "tokens/s": ladder.tokens_per_s("engine"),
         "what": "measured"},
        {"rung": "memory bound: bandwidth / bytes per token", "tokens/s": memory_bound, "what": "bound"},
        {"rung": "FLOP bound: FLOP/s / 2N", "tokens/s": flop_bound, "what": "bound"},
    ])


def ladder_chart(df: pd.DataFrame) -> alt.LayerChart:
    """Horizontal bars of tokens/s on a log axis (the rungs span orders of magnitude). Columns: rung, tokens/s, what."""
    _need(df, ["rung", "tokens/s", "what"])
    base = alt.Chart(df).encode(y=alt.Y("rung:N", title=None, sort=list(df["rung"]), axis=alt.Axis(labelLimit=320)))
    bars = base.mark_bar().encode(
        x=alt.X("tokens/s:Q", title="tokens/s (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("what:N", title=None, scale=alt.Scale(domain=["measured", "bound"],
                                                              range=["#4C5FD5", "#B8BFEA"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["rung", alt.Tooltip("tokens/s:Q", format=",.0f")])
    labels = base.mark_text(align="left", dx=4).encode(x="tokens/s:Q", text=alt.Text("tokens/s:Q", format=",.0f"))
    return alt.layer(bars, labels).properties(height=alt.Step(34))


def verification_frame(v: Verification) -> pd.DataFrame:
    """Long form for verification_chart: T, ratio, what (measured here; no sharing: T; weight-read bound: 1)."""
    rows = [{"T": T, "ratio": r, "what": "measured here: t(T) / t(1)"} for T, r in zip(v.Ts, v.ratios)]
    rows += [{"T": T, "ratio": float(T), "what": "nothing shared: T"} for T in v.Ts]
    rows += [{"T": T, "ratio": 1.0, "what": "bandwidth-bound (big model, GPU): 1"} for T in v.Ts]
    return pd.DataFrame(rows)


def verification_chart(df: pd.DataFrame) -> alt.Chart:
    """One pass over T tokens in one-token passes, measured, against the two extremes. Columns: T, ratio, what."""
    _need(df, ["T", "ratio", "what"])
    whats = list(dict.fromkeys(df["what"]))
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("T:Q", title="tokens in the pass (T = k drafted + 1)", scale=alt.Scale(domain=[1, int(df["T"].max())])),
        y=alt.Y("ratio:Q", title="pass time ÷ one-token pass"),
        color=alt.Color("what:N", title=None, sort=whats,
                        scale=alt.Scale(domain=whats, range=["#4C5FD5", "#E76F51", "#2A9D8F"][:len(whats)]),
                        legend=alt.Legend(orient="bottom", labelLimit=400)),
        strokeDash=alt.condition(alt.datum.what == whats[0], alt.value([1, 0]), alt.value([5, 4])),
        tooltip=["T", "what", alt.Tooltip("ratio:Q", format=".2f")],
    ).properties(height=260)


if __name__ == "__main__":
    from core.compute import set_threads
    from core.models import load_causal_lm

    set_threads()
    model, tokenizer = load_causal_lm("tiny-lm")
    draft = Engine(load_causal_lm("tiny-lm-draft")[0])
    ids = tokenizer("And the LORD spake unto Moses, saying,", return_tensors="pt").input_ids
    run = measure(model, Engine(model), ids, RunConfig(64, 3), draft, lambda f, m: print(f"  {f:4.0%} {m}"))
    for p in run.profiles:
        print(f"{p.name}: {p.ops_per_token:.0f} ops/token, " +
              ", ".join(f"{k} {s:.0%}" for k, s in sorted(p.shares.items(), key=lambda kv: -kv[1])))
    print(ladder_frame(run.ladder).round(1).to_string(index=False))
    v = run.verification
    for T, ms, r, ceiling in zip(v.Ts, v.ms, v.ratios, v.ceilings):
        print(f"T={T}: {ms:.2f} ms, r = {r:.2f}, oracle ceiling {ceiling:.2f}x")
    print(f"draft c = {v.draft_cost:.2f}; work {run.work_seconds:.1f} s")
