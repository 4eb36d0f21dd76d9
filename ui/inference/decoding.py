"""Inference · Decoding: greedy, temperature, top-k, top-p, beam search and the repetition penalty, live on
the tiny LM, with every step's candidate tokens and the probabilities they were chosen from."""
import pandas as pd
import streamlit as st

import ui
from core.charts import inference as charts
from core.inference import decoding
from core.state import Param
from ui.inference import MAX_PROMPT_CHARS, checked_prompt

PATH_STEPS = 32  # steps drawn in the overview chart (all of them are in the table)
PARAMS = [  # step = the widget's step, so a link lands on the widget's grid (and on a cached result)
    Param("dec_prompt", "And God said, Let there be", max_len=MAX_PROMPT_CHARS),
    Param("dec_strategy", "greedy", choices=decoding.STRATEGIES),
    Param("dec_temp", 1.0, 0.1, 2.0, step=0.05),
    Param("dec_top_k", 20, 1, 200, step=1),
    Param("dec_top_p", 0.9, 0.05, 1.0, step=0.05),
    Param("dec_beams", 3, 2, decoding.MAX_BEAMS, step=1),
    Param("dec_penalty", 1.0, 1.0, 2.0, step=0.05),
    Param("dec_tokens", 24, 4, decoding.MAX_NEW_TOKENS, step=1),
    Param("dec_seed", 0, 0, 9999, step=1),
]
HELP = {
    "greedy": "always the most probable token: deterministic, and prone to loops",
    "temperature": "sample from softmax(logits / T): T < 1 sharpens, T > 1 flattens",
    "top-k": "sample among the k most probable tokens only",
    "top-p": "sample among the fewest tokens whose probabilities add up to p (the nucleus)",
    "beam": "keep the B most probable whole sequences, not just the best next token",
}


@ui.cached_compute(max_entries=64, max_size="16MB")  # ≤ ~0.2 MB an entry: ≤ 128 steps × 9 candidates
def _decode(prompt: str, strategy: str, temperature: float, top_k: int, top_p: float, beams: int,
            penalty: float, max_tokens: int, seed: int) -> decoding.Generation:
    model, tokenizer = ui.causal_lm("tiny-lm")
    cfg = decoding.DecodeConfig(strategy, temperature, top_k, top_p, beams, penalty, max_tokens, seed)
    return decoding.generate(model, tokenizer, prompt, cfg)


def _show(token: str) -> str:
    """Make a token's spaces and newlines visible: ' the' -> '␣the'."""
    return token.replace(" ", "␣").replace("\n", "⏎") or "∅"


def _widgets() -> None:
    ui.bind_params(PARAMS)
    st.text_area("Prompt (the tiny LM only knows King James Bible English)", key="dec_prompt", height=68,
                 max_chars=MAX_PROMPT_CHARS)
    st.segmented_control("Strategy", decoding.STRATEGIES, key="dec_strategy", required=True)
    strategy = st.session_state.dec_strategy or "greedy"
    st.caption(f"**{strategy}**: {HELP[strategy]}.")
    c1, c2, c3, c4 = st.columns(4)
    c1.slider("Temperature T", 0.1, 2.0, step=0.05, key="dec_temp", disabled=strategy in ("greedy", "beam"),
              help="Used by temperature, top-k and top-p sampling.")
    c2.slider("top-k: k", 1, 200, key="dec_top_k", disabled=strategy != "top-k")
    c3.slider("top-p: p", 0.05, 1.0, step=0.05, key="dec_top_p", disabled=strategy != "top-p")
    c4.slider("Beams B", 2, decoding.MAX_BEAMS, key="dec_beams", disabled=strategy != "beam")
    c1, c2, c3 = st.columns(3)
    c1.slider("Repetition penalty θ", 1.0, 2.0, step=0.05, key="dec_penalty",
              help="CTRL's penalty on tokens already in the text; 1.0 = off. Applies to every strategy.")
    c2.slider("Max new tokens", 4, decoding.MAX_NEW_TOKENS, key="dec_tokens")
    c3.number_input("Seed", 0, 9999, key="dec_seed", disabled=strategy in ("greedy", "beam"),
                    help="Same seed, same settings: same text (the sampler's random generator is seeded).")
    ui.sync_params(PARAMS)


def _steps_table(gen: decoding.Generation) -> pd.DataFrame:
    rows = []
    for step in gen.steps:
        chosen = next(c for c in step.candidates if c.token_id == step.chosen_id)
        others = [c for c in step.candidates if c.token_id != step.chosen_id][:3]
        rows.append({"step": step.position, "chosen": _show(step.chosen), "model p": chosen.prob,
                     "p after filters": chosen.final_prob, "tokens kept": step.kept,
                     "runners-up (model p)": ", ".join(f"{_show(c.token)} {c.prob:.2f}" for c in others)})
    return pd.DataFrame(rows)


def _path_frame(gen: decoding.Generation, top: int = 6, steps: int = PATH_STEPS) -> pd.DataFrame:
    rows = []
    for i, step in enumerate(gen.steps[:steps]):
        ranked = sorted(step.candidates, key=lambda c: -c.prob)[:top]
        for rank, c in enumerate(ranked, 1):
            rows.append({"step": i + 1, "rank": rank, "token": _show(c.token), "prob": c.prob,
                         "chosen": c.token_id == step.chosen_id})
        if step.chosen_rank > top:  # sampled from further down: shown in an extra column with its rank
            c = next(c for c in step.candidates if c.token_id == step.chosen_id)
            rows.append({"step": i + 1, "rank": top + 1, "token": f"{_show(c.token)} (#{step.chosen_rank})",
                         "prob": c.prob, "chosen": True})
    return pd.DataFrame(rows)


def _show_sampling(gen: decoding.Generation, strategy: str) -> None:
    shown = "" if len(gen.steps) <= PATH_STEPS else f", first {PATH_STEPS} steps"
    st.markdown(f"**Every step's top candidates** (by the model's probability; the outlined cell was chosen{shown}):")
    ui.chart(charts.decoding_path_chart, _path_frame(gen), width="content")
    if len(gen.steps) > 1:
        i = st.slider("Look at step", 1, len(gen.steps), 1, key="dec_step") - 1
    else:
        i = 0
    step = gen.steps[i]
    frame = pd.DataFrame([{"token": _show(c.token), "prob": c.prob, "final_prob": c.final_prob,
                           "chosen": c.token_id == step.chosen_id} for c in step.candidates])
    left, right = st.columns([3, 2])
    how = "the most probable" if strategy == "greedy" else f"drawn from {step.kept:,} possible tokens"
    ui.chart(charts.candidates_chart, frame, f"Step {i + 1}: {_show(step.chosen)!r}, {how}", width="stretch", on=left)
    right.dataframe(frame.rename(columns={"prob": "model p", "final_prob": "p after filters"}),
                    hide_index=True, width="stretch", column_config={
                        "model p": st.column_config.NumberColumn(format="%.4f"),
                        "p after filters": st.column_config.NumberColumn(format="%.4f")})
    with st.expander("All steps as a table"):
        st.dataframe(_steps_table(gen), hide_index=True, width="stretch")
    if strategy != "greedy" and all(s.kept == 1 for s in gen.steps):
        st.info("Only one token survived the filter at every step, so this run was greedy in disguise: "
                "raise k or p to let chance in.")


def _tail(text: str, chars: int = 48) -> str:
    return text if len(text) <= chars else "…" + text[-chars:]


def _show_beams(gen: decoding.Generation) -> None:
    st.markdown("**The beams after each step**, best first, with their total log-probability "
                "(the last row: the hypotheses that finished at that step):")
    rows = [{"step": s.step + 1, "finished so far": s.finished,
             **{f"beam {b + 1}": f"{_tail(text)}  ({score:.2f})" for b, (text, score) in enumerate(s.beams)}}
            for s in gen.beam_steps]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=320)
    st.markdown("**Finished hypotheses**, ranked by log p ÷ length (the first one is the output):")
    st.dataframe(pd.DataFrame(gen.finished, columns=["text", "log p", "log p / length"]), hide_index=True,
                 width="stretch", column_config={"log p": st.column_config.NumberColumn(format="%.2f"),
                                                 "log p / length": st.column_config.NumberColumn(format="%.3f")})
    best_total = max(total for _, total, _ in gen.finished)
    if gen.finished[0][1] < best_total:
        st.caption(f"The winner's total log p ({gen.finished[0][1]:.2f}) is lower than the best total "
                   f"({best_total:.2f}): it is longer, and dividing by length (transformers' default "
                   "length_penalty = 1) keeps beam search from always preferring short endings.")


def _math() -> None:
    with st.expander("The math"):
        st.markdown("The model outputs logits $z \\in \\mathbb{R}^V$ for the next token ($V$ = 4,096 here). "
                    "Each strategy reshapes them before choosing:")
        st.latex(r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}} \qquad \text{(temperature } T\text{)}")
        st.latex(r"\text{top-}k:\; p'_i \propto p_i \,[\,i \in \text{the } k \text{ largest}\,] \qquad "
                 r"\text{top-}p:\; V_p = \text{smallest set with} \sum_{i \in V_p} p_i \ge p")
        st.latex(r"\text{repetition penalty: } z'_i = \begin{cases} z_i / \theta & z_i > 0 \\ z_i \cdot \theta & "
                 r"z_i \le 0 \end{cases} \text{ for every token } i \text{ already in the text}")
        st.latex(r"\text{beam search keeps the } B \text{ sequences with the largest } "
                 r"\textstyle\sum_{s} \log p(y_s \mid y_{<s})")
        st.markdown(
            "Greedy and beam search are *mode-seeking*: they find likely text, which for open-ended writing is "
            "bland and repetitive (Holtzman et al. call it *neural text degeneration*). Pure sampling at T = 1 "
            "reaches into the long tail of unlikely tokens, one bad pick derails the rest; top-k cuts the tail "
            "at a fixed size, top-p at a fixed probability mass, so the cut adapts: narrow when the model is "
            "sure, wide when it is not. Our filters are tested against transformers' `TopKLogitsWarper`, "
            "`TopPLogitsWarper`, `TemperatureLogitsWarper` and `RepetitionPenaltyLogitsProcessor`; greedy, "
            "sampling (same seed) and beam search are tested token for token against `model.generate`.")


def render() -> None:
    st.header("Decoding strategies")
    ui.explain("A language model does not write text: it gives a probability to every possible next token. "
                "**How you pick from that distribution** changes the text as much as the model does. Pick a "
                "strategy and watch each step's candidates on the real tiny LM (a small Llama trained on the King "
                "James Bible).")
    _widgets()
    if not ui.require_model("tiny-lm"):
        return
    prompt = checked_prompt("dec_prompt")
    if prompt is None:
        return
    s = st.session_state
    strategy = s.dec_strategy or "greedy"
    with ui.heavy("Decoding"):
        gen = _decode(prompt, strategy, float(s.dec_temp), int(s.dec_top_k), float(s.dec_top_p), int(s.dec_beams),
                      float(s.dec_penalty), int(s.dec_tokens), int(s.dec_seed))
    if gen.notes:
        st.info("Work budget: " + "; ".join(gen.notes) + ".")
        prompt = ui.causal_lm("tiny-lm")[1].decode(gen.prompt_ids)  # the part of the prompt the model read
    st.markdown(f"**Output** ({len(gen.new_ids)} new tokens):")
    st.code(prompt + gen.text, language=None, wrap_lines=True)
    if strategy == "beam":
        _show_beams(gen)
    else:
        _show_sampling(gen, strategy)
    _math()
    ui.papers(("Holtzman et al. 2019, The Curious Case of Neural Text Degeneration (top-p)",
               "https://arxiv.org/abs/1904.09751"),
              ("Fan et al. 2018, Hierarchical Neural Story Generation (top-k)", "https://arxiv.org/abs/1805.04833"),
              ("Keskar et al. 2019, CTRL (repetition penalty)", "https://arxiv.org/abs/1909.05858"),
              ("Sutskever et al. 2014, Sequence to Sequence Learning (used beam search for translation; did not introduce it)",
               "https://arxiv.org/abs/1409.3215"))
    ui.code_behind(decoding.process_logits, decoding.top_k_filter, decoding.top_p_filter,
                   decoding.repetition_penalty, decoding.sample_tokens if strategy != "beam" else decoding.beam_search)
