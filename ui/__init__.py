"""The small Streamlit layer shared by every page: cached loaders, the compute lock's waiting
message, URL state, "the code behind this", and paper links. Logic lives in core/; this is glue.
"""
import inspect
from contextlib import contextmanager

import streamlit as st

from core import models
from core.compute import COMPUTE_LOCK, set_threads
from core.state import Param


# ---- cached loaders: one copy per process, shared by every session ----------------------------
@st.cache_resource(show_spinner="Loading the tiny language model…")
def causal_lm(key: str = "tiny-lm"):
    set_threads()
    return models.load_causal_lm(key)


@st.cache_resource(show_spinner="Loading all-MiniLM-L6-v2…")
def encoder():
    set_threads()
    return models.load_encoder()


@st.cache_resource(show_spinner="Loading the sentence embedder…")
def sentence_embedder():
    set_threads()
    return models.load_sentence_embedder()


@st.cache_resource(show_spinner="Loading the tiny CLIP…")
def clip():
    set_threads()
    return models.load_clip()


def require_model(key: str) -> bool:
    """Show why a model is unavailable (and how to fix it) instead of failing; True if it is there."""
    try:
        models.model_path(key)
        return True
    except FileNotFoundError as err:
        st.warning(f"Model not available: {err}")
        return False


# ---- the compute lock ----------------------------------------------------------------------
@contextmanager
def heavy(what: str = "Computing"):
    """Run heavy work behind the process-wide lock, telling the user if they are queued."""
    note = st.empty()
    if COMPUTE_LOCK.busy():
        note.info(f"⏳ {what}: waiting for the CPU, {COMPUTE_LOCK.waiting + 1} run(s) ahead of you "
                  "(everyone on this server shares one lock, so each run stays fast).")
    with COMPUTE_LOCK.hold(), st.spinner(f"{what}…"):
        note.empty()
        yield


# ---- shareable state in the URL ------------------------------------------------------------
def bind_params(params: list[Param]) -> None:
    """Seed widget values (widget key = URL key) from st.query_params, validated and clamped.

    Call before drawing the widgets; call `sync_params` after.
    """
    for p in params:
        if p.key not in st.session_state:
            raw = st.query_params.get(p.key)
            st.session_state[p.key] = p.default if raw is None else p.parse(raw)


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


def quiz(page: str) -> None:
    """The page's closing questions: pick an answer, check it, read why."""
    from core.content.quizzes import QUIZZES

    st.subheader("Check yourself")
    for i, q in enumerate(QUIZZES[page]):
        choice = st.radio(q.question, q.options, index=None, key=f"quiz_{page}_{i}")
        if choice is not None:
            if q.options.index(choice) == q.answer:
                st.success(f"Right. {q.why}")
            else:
                st.error(f"Not quite: the answer is “{q.options[q.answer]}”. {q.why}")
