"""The small Streamlit layer shared by every page: cached loaders, the compute lock's waiting
message, URL state, "the code behind this", and paper links. Logic lives in core/; this is glue.
"""
import functools
import importlib
import inspect
from contextlib import contextmanager

import streamlit as st

from core import models
from core.compute import COMPUTE_LOCK, Busy, LockTimeout, set_threads
from core.state import Param, Rule, apply_rules

# ---- transformers' names, resolved once ---------------------------------------------------------
# transformers exports its names lazily: the first `from transformers import LlamaConfig` imports the submodule
# behind it. Two sessions' script threads doing that at the same moment can make one of them fail with "cannot
# import name 'LlamaConfig' from 'transformers'" (seen in the server log of the 10-session load test). Whichever
# thread imports this module first resolves every name the app uses; the others wait for the import to finish.
TRANSFORMERS_NAMES = ("AutoModel", "AutoModelForCausalLM", "AutoTokenizer", "BertConfig", "BertForMaskedLM",
                      "BitsAndBytesConfig", "CLIPConfig", "CLIPModel", "LlamaConfig", "LlamaForCausalLM",
                      "PreTrainedTokenizerFast")


def _resolve_transformers() -> None:
    import transformers

    for name in TRANSFORMERS_NAMES:
        getattr(transformers, name)


_resolve_transformers()


# ---- cached loaders: one copy per process, shared by every session ----------------------------
# A model loads under the compute lock (core.models: from_pretrained changes process-wide torch state). The lock
# is taken BEFORE st.cache_resource's own per-function lock, never after it: a job holding the compute lock may
# need a model, and if another thread were already inside the cached loader waiting for the compute lock, the two
# would wait for each other forever. Once a model is loaded, its cache hit takes no lock at all.
_LOADED: set[tuple] = set()


def _once(cached, *args):
    if (cached, args) in _LOADED:
        return cached(*args)
    with COMPUTE_LOCK.hold(timeout_s=600, queue_limit=False):
        value = cached(*args)
    _LOADED.add((cached, args))
    return value


@st.cache_resource(show_spinner="Loading the tiny language model…")
def _causal_lm(key: str):
    set_threads()
    return models.load_causal_lm(key)


@st.cache_resource(show_spinner="Loading all-MiniLM-L6-v2…")
def _encoder():
    set_threads()
    return models.load_encoder()


@st.cache_resource(show_spinner="Loading the sentence embedder…")
def _sentence_embedder():
    set_threads()
    return models.load_sentence_embedder()


@st.cache_resource(show_spinner="Loading the tiny CLIP…")
def _clip():
    set_threads()
    return models.load_clip()


def causal_lm(key: str = "tiny-lm"):
    """(model, tokenizer) of a bundled causal LM, loaded once per process. Never modify it: copy it."""
    return _once(_causal_lm, key)


def encoder():
    return _once(_encoder)


def sentence_embedder():
    return _once(_sentence_embedder)


def clip():
    return _once(_clip)


@st.cache_resource(show_spinner="Loading the tiny LLaVA…")
def _tiny_llava():
    set_threads()
    from core.multimodal.llava import load_tiny_llava

    return load_tiny_llava()


def tiny_llava():
    """The trained tiny LLaVA (its own copy of tiny-lm with the LoRA merged in, never the shared tiny-lm)."""
    return _once(_tiny_llava)


def require_model(key: str) -> bool:
    """Show why a model is unavailable (and how to fix it) instead of failing; True if it is there."""
    try:
        models.model_path(key)
        return True
    except FileNotFoundError as err:
        st.warning(f"Model not available: {err}")
        return False


# ---- the compute lock ----------------------------------------------------------------------
def cached_compute(max_entries: int = 64, max_size: str = "16MB", ttl: str | None = None):
    """st.cache_data whose body runs under the process-wide compute lock: only real work queues.

    The lock is taken inside the cached function, so a cache hit returns at once even while someone
    else's long job holds the lock, and thirty identical requests compute once (Streamlit holds a
    per-key lock while the first computes). Every cache is bounded in entries and in bytes.

        @ui.cached_compute(max_entries=32, max_size="8MB")
        def _similarity(n: int, seed: int) -> Result: ...
    """
    def decorate(fn):
        @functools.wraps(fn)
        def locked(*args, **kwargs):
            with COMPUTE_LOCK.hold():
                return fn(*args, **kwargs)

        return st.cache_data(max_entries=max_entries, max_size=max_size, ttl=ttl, show_spinner=False)(locked)

    return decorate


@contextmanager
def heavy(what: str = "Computing"):
    """Around a call to a `cached_compute` function: say where this viewer stands in the queue, show a
    spinner, and turn a full queue or a timeout into a clear message instead of a traceback (the rest
    of the page is then not drawn: `st.stop()`)."""
    note = st.empty()
    if COMPUTE_LOCK.busy():
        ahead = COMPUTE_LOCK.waiting + 1
        note.info(f"{what}: queued behind {ahead} run(s) on this server (first come, first served; "
                  "everyone shares one CPU lock so each run stays fast). Results already computed by anyone "
                  "show at once.", icon=":material/hourglass_top:")
    try:
        with st.spinner(f"{what}…"):
            yield
    except Busy:
        note.warning(f"The server is busy: {COMPUTE_LOCK.waiting} runs are queued. Try again in a moment; "
                     "results someone has already computed still show at once.")
        st.stop()
    except LockTimeout:
        note.warning(f"{what}: waited {COMPUTE_LOCK.timeout_s:.0f} s for the CPU without getting it. "
                     "Try again in a moment.")
        st.stop()
    else:
        note.empty()


# ---- charts: built once per input, process-wide -------------------------------------------------------
# Building an altair chart and converting it to Vega-Lite (altair resolves each channel against the schema and
# validates the whole spec) costs 20-150 ms of pure Python per chart: most of what a cached page's rerun costs
# the server. Python runs one thread at a time, so ten sessions redrawing pages at once each wait for the
# others' charts (the load test measured cached runs of 0.3 s CPU taking 5-18 s). The spec depends only on the
# builder's inputs, so it is built once per distinct input and every later rerun, in any session, draws it
# from the cache. The conversion is Streamlit's own (what st.altair_chart runs), so the chart is the same.
@st.cache_data(max_entries=512, max_size="96MB", show_spinner=False)
def _chart_spec(module: str, name: str, args: tuple, kwargs: dict) -> dict:
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    build = getattr(importlib.import_module(module), name)
    return _convert_altair_to_vega_lite_spec(build(*args, **kwargs))


def chart(build, *args, on=None, width=None, **kwargs) -> None:
    """Draw `build(*args, **kwargs)`, a pure altair builder of core.charts, as st.altair_chart would, from a
    process-wide cache of its Vega-Lite spec keyed by the builder and its inputs. `on`: a container (a column)
    instead of the page; `width`: st.altair_chart's.

        ui.chart(charts.scores_chart, scores_df, k, width="stretch")
        ui.chart(charts.cost_chart, time_df, "time", "ms", on=left)
    """
    spec = _chart_spec(build.__module__, build.__qualname__, args, kwargs)
    (on or st).vega_lite_chart(spec=spec, **({} if width is None else {"width": width}))


# ---- shareable state in the URL ------------------------------------------------------------
def bind_params(params: list[Param], rules: tuple[Rule, ...] = ()) -> None:
    """Seed widget values (widget key = URL key) from st.query_params: validated, clamped, snapped
    to each widget's step, then made consistent by the page's cross-parameter rules.

    Call before drawing the widgets; call `sync_params` after.
    """
    fresh = {p.key: (p.default if st.query_params.get(p.key) is None else p.parse(st.query_params.get(p.key)))
             for p in params if p.key not in st.session_state}
    if not fresh:
        return
    current = {p.key: st.session_state.get(p.key, fresh.get(p.key)) for p in params}
    for key, value in apply_rules(current, rules).items():
        if key in fresh:
            st.session_state[key] = value


def sync_params(params: list[Param]) -> None:
    """Write the current widget values back to the URL, so the link reproduces this page."""
    for p in params:
        if p.key in st.session_state:
            value = p.dump(st.session_state[p.key])
            if st.query_params.get(p.key) != value:
                st.query_params[p.key] = value


# ---- teaching helpers ----------------------------------------------------------------------
def code_behind(*functions, label: str = "The code behind this") -> None:
    """An expander with the real source of the core functions the demo just ran."""
    with st.expander(label):
        for fn in functions:
            st.caption(f"`{fn.__module__}.{fn.__qualname__}`")
            st.code(inspect.getsource(fn), language="python")


def papers(*links: tuple[str, str]) -> None:
    """A 'Papers' line: papers(('Attention Is All You Need', 'https://arxiv.org/abs/1706.03762'))."""
    st.markdown("**Papers:** " + " · ".join(f"[{title}]({url})" for title, url in links))


def text_input_checked(text: str, max_chars: int, what: str = "text") -> str | None:
    """Validate free text: None (after a clear message) when empty, whitespace or too long."""
    if not text or not text.strip():
        st.info(f"Type some {what} to see the result.")
        return None
    if len(text) > max_chars:
        st.warning(f"That {what} is {len(text):,} characters; this demo takes at most {max_chars:,}. "
                   f"Only the first {max_chars:,} are used.")
        return text[:max_chars]
    return text


def section_query(page: str, section: str) -> dict | None:
    """URL parameters that open `page` at `section` (a section name or a header drawn in one): the page's
    section Param, {'f_section': 'QLoRA'}; None for a page drawn in one piece, which opens at its top (a
    heading's #anchor would reload the app and lose the session)."""
    from core.content.sections import section_params

    return section_params(page, section)


def explain(text: str) -> None:
    """A section's explanation: markdown, folded into a closed expander in presenter mode (the teacher tells it;
    the projector keeps the widgets and the charts)."""
    if st.session_state.get("present"):
        with st.expander("Explanation", icon=":material/description:"):
            st.markdown(text)
    else:
        st.markdown(text)


def record(measure: str, value: float) -> None:
    """Keep a figure this session has measured, for the quiz's questions about it (core.content.measured_quizzes)."""
    st.session_state.setdefault("measured", {})[measure] = value


def _measured_questions(page: str) -> list:
    """The page's measured questions whose figure this session has recorded, as quiz Questions; a note for the rest."""
    from core.content.measured_quizzes import MEASURED, options
    from core.content.quizzes import Question

    recorded = st.session_state.get("measured", {})
    asked, waiting = [], []
    for m in MEASURED.get(page, []):
        if m.measure not in recorded:
            waiting.append(m.ask_after)
            continue
        value = recorded[m.measure]
        opts, answer = options(value, m.fmt, m.integer, m.most)
        # The key names the figure: a new measurement (new options) is a new question, not a stale answer.
        key = f"quiz_{page}_{m.measure}_{opts[answer]}"
        asked.append((key, Question(m.question + " (measured here)", opts, answer, m.why.format(value=opts[answer]),
                                    m.section)))
    if waiting:
        st.caption(f"{len(waiting)} more question(s) about what this machine measures appear once you have run "
                   "them: " + " ".join(waiting))
    return asked


def quiz(page: str) -> None:
    """The page's closing questions: pick an answer, check it, read why; the score is kept for the session.
    After the fixed questions come those about figures this session has measured (ui.record)."""
    from core.content.home import PAGE_FILES
    from core.content.quizzes import QUIZZES

    st.subheader("Check yourself")
    keyed = [(f"quiz_{page}_{i}", q) for i, q in enumerate(QUIZZES[page])] + _measured_questions(page)
    right = 0
    for key, q in keyed:
        choice = st.radio(q.question, q.options, index=None, key=key)
        if choice is not None:
            if q.options.index(choice) == q.answer:
                right += 1
                st.success(f"Right. {q.why}")
            else:
                st.error(f"Not quite: the answer is “{q.options[q.answer]}”. {q.why}")
            if getattr(q, "section", ""):
                st.page_link(PAGE_FILES[page], label=f"Back to “{q.section}”", icon=":material/undo:",
                             query_params=section_query(page, q.section))
    answered = sum(st.session_state.get(key) is not None for key, _ in keyed)
    st.session_state.setdefault("quiz_scores", {})[page] = (right, answered, len(keyed))
    st.metric("Your score on this page", f"{right} / {len(keyed)}", help=f"{answered} answered so far")
