"""Inference · Speculative decoding: tiny-lm-draft proposes k tokens, tiny-lm checks them in one pass;
every round shown (proposed, accepted, rejected), the output checked identical, the speedup measured."""
import html

import pandas as pd
import streamlit as st

import ui
from core.charts import inference as charts
from core.inference import speculative as spec
from core.models import parameter_count
from core.state import Param
from ui.inference import MAX_PROMPT_CHARS, checked_prompt, run_in_slices, stopped

EOS = "<|endoftext|>"  # the verse separator, shown as ¶
TIMING_TOKENS, TIMING_REPS, SWEEP_K = 64, 2, (1, 2, 3, 4, 5, 6)  # 4,608 decoded tokens: spec.SWEEP_MAX_TOKENS
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("spec_prompt", "And the LORD said unto Moses,", max_len=MAX_PROMPT_CHARS),
    Param("spec_k", 4, 1, spec.MAX_K, step=1),
    Param("spec_tokens", 48, 8, spec.MAX_NEW_TOKENS, step=8),
]


@ui.cached_compute(max_entries=64, max_size="16MB")  # ≤ ~0.1 MB an entry: ≤ 128 rounds of ≤ 8 tokens
def _speculate(prompt: str, k: int, new_tokens: int) -> spec.SpecDemo:
    target, tokenizer = ui.causal_lm("tiny-lm")
    draft, _ = ui.causal_lm("tiny-lm-draft")
    return spec.speculate(target, draft, tokenizer, prompt, k, new_tokens)


def _token(text: str, colour: str, strike: bool = False) -> str:
    style = f"background:{colour}33;border-bottom:2px solid {colour};padding:0 1px;white-space:pre"
    style += ";text-decoration:line-through" if strike else ""
    text = text.replace("\n", "⏎").replace(EOS, "¶")
    return f'<span style="{style}">{html.escape(text)}</span>'


def _rounds_html(result: spec.SpecResult) -> str:
    """Each round on one line: accepted drafts (green), rejected drafts (red, struck out), the target's token (blue)."""
    green, red, blue = charts.OUTCOMES["accepted"], charts.OUTCOMES["rejected"], charts.OUTCOMES["target's token"]
    lines = []
    for i, r in enumerate(result.rounds, 1):
        tokens = [_token(t, green) for t in r.proposed_text[: r.accepted]]
        tokens += [_token(t, red, strike=True) for t in r.proposed_text[r.accepted:]]
        tokens.append(_token(r.target_text, blue))
        lines.append(f"<div style='font-family:monospace;line-height:1.9'>round {i:>2}: {''.join(tokens)} "
                     f"<span style='color:gray'>({r.accepted}/{len(r.proposed)} accepted)</span></div>")
    return "".join(lines)


def _rounds_frame(result: spec.SpecResult) -> pd.DataFrame:
    rows = []
    for i, r in enumerate(result.rounds, 1):
        rows += [{"round": i, "outcome": "accepted", "tokens": r.accepted},
                 {"round": i, "outcome": "rejected", "tokens": len(r.proposed) - r.accepted},
                 {"round": i, "outcome": "target's token", "tokens": 1}]
    return pd.DataFrame(rows)


def _timing(prompt: str) -> None:
    st.subheader("Is it faster? Measured")
    plan = spec.plan_sweep(SWEEP_K, TIMING_TOKENS, TIMING_REPS)
    st.markdown(f"Greedy decoding of {plan.new_tokens} tokens, four ways: transformers' `target.generate` alone and "
                f"with `assistant_model=draft` (assisted generation, k fixed), our plain greedy loop and our "
                f"speculative loop, for k = {plan.ks[0]}…{plan.ks[-1]}: {plan.decoded_tokens:,} decoded tokens, "
                f"about half a minute on 2 CPU cores (it stops starting new k after {spec.SWEEP_MAX_SECONDS:.0f} s). "
                "It runs only when you click; the result stays here until you click again.")
    if plan.cut:
        ks, new_tokens, reps = plan.asked
        st.info(f"Work budget: k = {ks[0]}…{ks[-1]} × {new_tokens} tokens × {reps} runs would decode more than "
                f"{plan.max_tokens:,} tokens; this sweep runs k = {plan.ks[0]}…{plan.ks[-1]} × {plan.new_tokens} "
                f"tokens × {plan.reps} runs.")
    state = st.session_state
    if st.button("Measure the speedup", key="spec_measure"):
        target, tokenizer = ui.causal_lm("tiny-lm")
        draft, _ = ui.causal_lm("tiny-lm-draft")
        steps = spec.speedup_sweep(target, draft, tokenizer, prompt, plan)
        state["spec_sweep"] = (prompt, run_in_slices(steps, "Timing speculative decoding", "spec_stop"))
    if stopped("spec_stop"):
        st.info("Measurement stopped" + (": the previous one is shown." if "spec_sweep" in state else "."))
    if "spec_sweep" not in state:
        return
    measured_prompt, sweep = state["spec_sweep"]
    if measured_prompt != prompt:
        st.caption("Measured on another prompt (below); click the button to measure this one.")
        st.text(measured_prompt)
    if sweep.stopped_early:
        st.warning(f"Time cap: the sweep stopped starting new values of k after {sweep.work_seconds:.0f} s of work "
                   f"(the cap is {spec.SWEEP_MAX_SECONDS:.0f} s; this server is busy); {len(sweep.speedups)} of "
                   f"{sweep.planned} values of k were measured.")
    results = list(sweep.speedups)
    rows = []
    for s in results:
        rows += [{"k": s.k, "speedup": s.speedup, "what": "transformers (assisted)"},
                 {"k": s.k, "speedup": s.loop_speedup, "what": "our loop"},
                 {"k": s.k, "speedup": s.predicted_speedup, "what": "cost model: tokens per pass ÷ (1 + k·c)"}]
    ui.chart(charts.speculative_k_chart, pd.DataFrame(rows), width="stretch")
    table = pd.DataFrame([{"k": s.k, "acceptance α": s.acceptance, "tokens / target pass": s.tokens_per_pass,
                           "generate (s)": s.target_seconds, "assisted (s)": s.assisted_seconds,
                           "speedup": s.speedup, "our greedy (s)": s.greedy_seconds,
                           "our speculative (s)": s.loop_seconds, "our speedup": s.loop_speedup,
                           "c = draft ÷ target pass": s.cost_ratio, "same output": s.same_output} for s in results])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="%.2f") for c in table.columns if c not in ("k", "same output")})
    best = max(results, key=lambda s: s.loop_speedup)
    ui.record("spec_best", best.loop_speedup)
    st.caption(f"Median of {results[0].reps} interleaved runs after a warm-up, on this machine's CPU; every output "
               "checked identical to the target's own greedy output.")
    first = results[0]
    target, draft = (ui.causal_lm(key)[0] for key in ("tiny-lm", "tiny-lm-draft"))
    target_params, draft_params = parameter_count(target), parameter_count(draft)
    target_layers, draft_layers = target.config.num_hidden_layers, draft.config.num_hidden_layers
    target_width, draft_width = target.config.hidden_size, draft.config.hidden_size
    draft_vocab = draft.config.vocab_size
    draft_embed = draft_vocab * draft_width
    overhead = 1000 * first.target_seconds / first.new_tokens - first.target_pass_ms
    st.info(
        f"**Why not 2-3×?** Best here: our loop **{best.loop_speedup:.2f}×** at k = {best.k}, transformers' "
        f"assisted generation {max(s.speedup for s in results):.2f}×. Three reasons, measured above. "
        f"(1) The draft is not cheap enough: a draft pass costs c ≈ {first.cost_ratio:.2f} of a target pass "
        f"({first.draft_pass_ms:.1f} ms vs {first.target_pass_ms:.1f} ms). A tiny model's step on a CPU is "
        f"**overhead-bound**, not memory-bound: its weights fit in the CPU's caches, and the time goes to the fixed "
        f"cost of each of the step's many small operations (the Serving section measures it against the roofline). "
        f"So c tracks the draft's **depth**, its number of operations, more than its bytes: {draft_layers} layers "
        f"against {target_layers} ({draft_layers / target_layers:.2f}), while its parameters are "
        f"{draft_params / 1e6:.2f}M / {target_params / 1e6:.2f}M = {draft_params / target_params:.2f} of the target's; "
        f"{draft_embed / draft_params:.0%} of the draft is its V × d embedding table ({draft_vocab:,} × {draft_width}, "
        f"narrower than the target's × {target_width}, which is how a draft sharing the tokenizer shrinks it). "
        f"A 7B target on a GPU is bandwidth-bound instead, and there c follows bytes. "
        f"(2) The draft often disagrees: "
        f"{best.tokens_per_pass:.2f} tokens per target pass at k = {best.k}, where a perfect draft gives "
        f"{best.k + 1}. (3) Overheads: the target's pass over k+1 tokens is not quite free on a CPU, and "
        f"transformers' assisted generation calls `draft.generate()` every round, while its `generate` already "
        f"adds about {overhead:.1f} ms per token to a {first.target_pass_ms:.1f} ms model. Real deployments "
        "pair e.g. a 70B target with a 1-7B draft on a GPU: c ≈ 0.02-0.1, checking k+1 tokens costs the same "
        "as one, and overheads are negligible, hence the papers' 2-3×.")


def render() -> None:
    st.header("Speculative decoding")
    ui.explain(
        "Decoding is slow because every token needs a full pass of the big model, and that pass is limited by "
        "reading the weights, not by arithmetic: checking several tokens at once costs about as much as "
        "generating one. So let a **small draft model guess k tokens** and have the **target check all of them "
        "in one pass**: keep the guesses it agrees with, plus one token of its own. The output is *exactly* "
        "what the target would have written alone; only the speed changes.")
    ui.bind_params(PARAMS)
    st.text_area("Prompt", key="spec_prompt", height=68, max_chars=MAX_PROMPT_CHARS)
    c1, c2 = st.columns(2)
    c1.slider("Drafted tokens per round (k)", 1, spec.MAX_K, key="spec_k")
    c2.slider("New tokens", 8, spec.MAX_NEW_TOKENS, step=8, key="spec_tokens")
    ui.sync_params(PARAMS)
    if not (ui.require_model("tiny-lm") and ui.require_model("tiny-lm-draft")):
        return
    prompt = checked_prompt("spec_prompt")
    if prompt is None:
        return
    k, new_tokens = int(st.session_state.spec_k), int(st.session_state.spec_tokens)
    with ui.heavy("Speculative decoding"):
        demo = _speculate(prompt, k, new_tokens)
    result, reference = demo.result, demo.reference
    if demo.notes:
        st.info("Work budget: " + "; ".join(demo.notes) + ".")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("acceptance α", f"{result.acceptance:.0%}", help="accepted draft tokens / proposed draft tokens")
    c2.metric("tokens per target pass", f"{result.tokens_per_pass:.2f}", help="plain decoding: 1.00")
    c3.metric(f"target passes (plain: {len(result.new_ids)})", f"{result.target_passes}")
    c4.metric("identical to the target alone", "yes ✓" if result.new_ids == reference else "NO ✗")
    st.markdown("**Each round**: <span style='color:#2A9D8F'>accepted draft tokens</span>, "
                "<span style='color:#E76F51'>rejected ones (struck out)</span>, then "
                "<span style='color:#4C5FD5'>the target's own token</span> (its correction, or a bonus token "
                "when every guess was right).", unsafe_allow_html=True)
    st.markdown(_rounds_html(result), unsafe_allow_html=True)
    ui.chart(charts.speculative_rounds_chart, _rounds_frame(result), width="stretch")
    if result.new_ids != reference:
        st.error("The speculative output differs from the target's greedy output: this should never happen.")
    if any(EOS in r.proposed_text or r.target_text == EOS for r in result.rounds):
        st.caption("¶ marks the end-of-text token between verses; the model then starts the next verse.")
    _timing(prompt)
    with st.expander("The math"):
        st.markdown("Greedy verification: the draft proposes $d_1..d_k$; one target pass over "
                    "$[x_t, d_1, …, d_k]$ gives its own choices $g_1..g_{k+1}$. Accept $a$ = the longest prefix with "
                    "$d_i = g_i$, append $g_{a+1}$. With sampling, Leviathan et al. and Chen et al. accept $d_i$ "
                    "with probability $\\min(1, p(d_i)/q(d_i))$ and resample from $\\max(0, p - q)$ on rejection, "
                    "which provably leaves the target's distribution unchanged; greedy is its $T \\to 0$ limit.")
        st.latex(r"\mathbb{E}[\text{tokens per round}] = \frac{1 - \alpha^{k+1}}{1 - \alpha} \qquad "
                 r"\text{speedup} \approx \frac{1 - \alpha^{k+1}}{(1 - \alpha)(k c + 1)}")
        st.markdown("α: probability a drafted token is accepted; c: cost of a draft pass relative to a target pass "
                    "(Leviathan et al. 2022, eq. 1 and Theorem 3.8; it assumes the target's pass over k+1 "
                    "tokens costs the same as over one: true for a bandwidth-bound model on a GPU, only roughly so "
                    "for tiny-lm on a CPU, where each extra token adds arithmetic to an overhead-bound step). "
                    "Too large a k "
                    "wastes draft passes on tokens that will be rejected; too small a k leaves speed on the table.")
    ui.papers(("Leviathan et al. 2022, Fast Inference from Transformers via Speculative Decoding",
               "https://arxiv.org/abs/2211.17192"),
              ("Chen et al. 2023, Accelerating LLM Decoding with Speculative Sampling",
               "https://arxiv.org/abs/2302.01318"))
    ui.code_behind(spec.speculative_generate, spec.trim_cache)
