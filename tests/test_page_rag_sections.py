"""AppTest of the RAG page's sections beyond the pipeline (?r_section=): retrieval scored, vector indexes, the
grounded answer and long context, each opened from a link and driven through its main widgets and buttons."""
import pytest
from conftest import ROOT, assert_ok

from core.rag import chunking, evaluation

PAGE = "app_pages/rag.py"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def open_section(section: str, **params):
    """The page opened from a link to one section, with any other URL parameters."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=240)
    at.query_params.update({"r_section": section, **{k: str(v) for k, v in params.items()}})
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at, "RAG")
    return at


def url_value(at, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def table_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_section_selector_and_its_headers():
    at = open_section("Retrieval scored")
    assert at.segmented_control(key="r_section").value == "Retrieval scored"
    assert [h.value for h in at.header] == ["Sparse, dense and hybrid retrieval, scored", "Reranking: a second, slower look"]
    at.segmented_control(key="r_section").set_value("Grounded answer").run()
    assert_ok(at, "RAG")
    assert url_value(at, "r_section") == "Grounded answer"
    assert [h.value for h in at.header] == ["A grounded answer with citations"]


def test_retrieval_scored_table_weight_and_one_question():
    at = open_section("Retrieval scored")
    table = table_with(at, "MRR")
    assert list(table["method"]) == list(evaluation.METHODS) and "recall@5" in table.columns
    assert ((table["MRR"] > 0) & (table["MRR"] <= 1)).all()
    assert any(f"{len(chunking.load_questions())} questions" in c.value for c in at.caption)
    at.slider(key="sc_w").set_value(0.0).run()  # the hybrid with no dense weight is BM25 alone
    assert_ok(at, "RAG")
    table = table_with(at, "MRR")
    assert table["MRR"].iloc[2] == pytest.approx(table["MRR"].iloc[0]) and url_value(at, "sc_w") == "0.0"
    at.slider(key="sc_k").set_value(1).run()
    assert "recall@1" in table_with(at, "MRR").columns
    at.toggle(key="sc_disagree").set_value(False).run()
    assert len(table_with(at, "answered by")) == len(chunking.load_questions())
    at.selectbox(key="sc_q").set_value(12).run()
    assert_ok(at, "RAG")
    assert sum("BM25 words" in d.value.columns for d in at.dataframe) == 3  # one top-5 table per method
    assert url_value(at, "sc_q") == "12"


def test_vector_indexes_on_real_embeddings_knobs_and_sweep():
    at = open_section("Vector indexes", ix_nlist=8, ix_nprobe=30)  # a link breaking nprobe <= nlist
    assert at.slider(key="ix_nprobe").value == 8
    table = table_with(at, "bytes per vector")
    assert list(table["index"]) == ["Flat (exact)", "IVF", "HNSW", "PQ", "IVF-PQ"]
    assert table["recall"].iloc[0] == 1.0 and table["recall"].iloc[1] == 1.0  # flat; IVF scanning all 8 lists
    at.slider(key="ix_nprobe").set_value(1).run()
    at.slider(key="ix_ef").set_value(1).run()
    assert_ok(at, "RAG")
    table = table_with(at, "bytes per vector")
    assert table["recall"].iloc[1] < 1.0 and table["recall"].iloc[2] < 1.0
    at.button(key="ix_sweep").click().run()
    assert_ok(at, "RAG")
    assert any("query-time knobs" in c.value for c in at.caption)
    at.slider(key="ix_k").set_value(5).run()  # kept, with a note, not re-measured
    assert any("other settings" in i.value for i in at.info)


def test_grounded_answer_cites_and_highlights():
    at = open_section("Grounded answer")
    answer = at.success[0].value
    assert answer.rstrip().endswith("]") and "[" in answer
    prompt = at.code[0].value
    assert "### Context\n[1] (source: " in prompt and "How much memory does the KV cache need per token?" in prompt
    assert any("<mark" in h.proto.body for h in at.get("html"))
    assert any("tiny-lm" in m.value and "King James" in m.value for m in at.markdown)
    at.radio(key="g_method").set_value("BM25").run()
    at.slider(key="g_k").set_value(5).run()
    assert_ok(at, "RAG")
    assert "[5] (source: " in at.code[0].value and url_value(at, "g_method") == "BM25"
    at.text_input(key="g_q").input("").run()
    assert_ok(at, "RAG")
    assert any("Type some question" in m.value for m in (*at.info, *at.warning))


def test_long_context_masks_and_rope_chart_without_buttons():
    at = open_section("Long context", lc_w=4, lc_T=16)
    assert_ok(at, "RAG")
    pairs = table_with(at, "pairs scored")
    assert list(pairs["pattern"]) == ["causal", "sliding window", "dilated window", "strided", "global + window"]
    assert pairs["pairs scored"].iloc[0] == 16 * 17 // 2 and pairs["pairs scored"].iloc[1] == 4 * 16 - 6
    assert not any("perplexity, positions ≥ 128" in d.value.columns for d in at.dataframe)  # only on its button
    at.slider(key="lc_w").set_value(8).run()
    assert table_with(at, "pairs scored")["pairs scored"].iloc[1] == 8 * 16 - 28


def test_long_context_cost_measured_on_the_encoder():
    at = open_section("Long context")
    at.button(key="lc_cost_MiniLM").click().run()
    assert_ok(at, "RAG")
    assert any("MiniLM encoder" in m.value for m in at.markdown)
    assert any("memory 2.00" in c.value for c in at.caption)  # L·H·T²·4 bytes, read off the tensors


def test_long_context_cost_measured_on_tiny_lm(monkeypatch):
    from ui.rag import long_context

    monkeypatch.setattr(long_context, "LM_LENGTHS", (32, 64, 128))  # the test's budget; the page measures to 1024
    at = open_section("Long context")
    at.button(key="lc_cost_tiny-lm").click().run()
    assert_ok(at, "RAG")
    assert any("**tiny-lm**" in m.value for m in at.markdown)


def test_long_context_perplexity_by_position():
    at = open_section("Long context", lc_len=256, lc_factor=2)
    at.button(key="lc_ppl").click().run()
    assert_ok(at, "RAG")
    table = table_with(at, "perplexity, positions ≥ 128")
    assert list(table.index) == ["original", "PI", "NTK-aware", "YaRN"]
    assert (table.to_numpy() > 1).all()
    at.select_slider(key="lc_factor").set_value(8).run()
    assert any("click the button to measure the current settings" in i.value for i in at.info)


def test_long_context_needle_in_a_haystack():
    at = open_section("Long context", lc_hay=50)
    at.button(key="lc_needle").click().run()
    assert_ok(at, "RAG")
    ranks = table_with(at, 0.5)
    assert list(ranks.index) == list(evaluation.METHODS) and (ranks.loc["BM25"] == 1).all()
    at.radio(key="lc_nq").set_value("no shared words").run()
    assert any("another haystack or question" in i.value for i in at.info)
