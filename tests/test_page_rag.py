"""AppTest of pages/rag.py: defaults, sliders, odd questions, clamped overlap, buttons."""
import pytest

from conftest import ODD_TEXTS, assert_ok, open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def at():
    return open_page("pages/rag.py", timeout=240)


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_default_render_retrieves_the_kv_cache_document(at):
    assert_ok(at, "RAG")
    table = at.dataframe[0].value
    assert table["source"].iloc[0] == "kv_cache.md"
    assert len(table) == 4  # k = 4 by default
    prompt = at.code[0].value
    assert "### Question\nWhat does the KV cache store?" in prompt
    assert all(f"[{n}] (source: " in prompt for n in range(1, 5))
    assert "WordPiece tokens" in _markdown(at)


def test_sliders_and_index_change_the_result(at):
    at.slider(key="size").set_value(200)
    at.slider(key="overlap").set_value(40)
    at.slider(key="k").set_value(6)
    at.selectbox(key="strategy").set_value("sentence")
    at.selectbox(key="index").set_value("hnsw")
    at.text_input(key="q").input("How does LoRA reduce trainable parameters?")
    at.run()
    assert_ok(at, "RAG")
    table = at.dataframe[0].value
    assert len(table) == 6
    assert table["source"].iloc[0] == "lora.md"
    assert (table["chunk"].str.len() <= 200).all()
    assert at.query_params["size"] == "200" and at.query_params["index"] == "hnsw"


def test_overlap_not_below_size_is_clamped_with_a_message(at):
    at.slider(key="size").set_value(100)
    at.slider(key="overlap").set_value(300)
    at.run()
    assert_ok(at, "RAG")
    assert any("clamped" in w.value for w in at.warning)


@pytest.mark.parametrize("text", ODD_TEXTS, ids=["empty", "whitespace", "100kB", "non-ascii"])
def test_odd_questions_give_a_message_not_a_crash(at, text):
    at.text_input(key="q").input(text)
    at.run()
    assert_ok(at, "RAG")
    messages = [m.value for m in (*at.info, *at.warning)]
    if not text.strip():
        assert any("Type some question" in m for m in messages)
    elif len(text) > 500:
        assert any("at most 500" in m for m in messages)
        assert len(at.query_params.get("q", "")) <= 500  # a 100 kB question is not written to the URL
    else:
        assert any("non-ASCII" in m for m in messages)


def test_sweep_and_index_benchmark_buttons(at):
    at.text_input(key="q").input("What does the KV cache store?")
    at.slider(key="size").set_value(400)
    at.slider(key="overlap").set_value(80)
    at.selectbox(key="strategy").set_value("fixed")
    at.button(key="rag_bench").click()
    at.run()
    assert_ok(at, "RAG")
    bench = at.dataframe[-1].value
    assert list(bench["kind"]) == ["flat", "hnsw", "ivf", "ivfpq"]
    assert bench.loc[bench["kind"] == "flat", "recall"].item() == 1.0
