"""The landing page renders, lists every page and path, and shows which models are available."""
from streamlit.testing.v1 import AppTest

from core.content.home import LEARNING_PATHS, PAGE_FILES, PAGE_SUMMARIES
from tests.conftest import ROOT, assert_ok


def test_home_renders_pages_paths_and_models():
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)
    at.run()
    assert_ok(at, "LLM Lab")
    text = " ".join(m.value for m in at.markdown)
    for summary in PAGE_SUMMARIES.values():
        assert summary in text
    assert [t.label for t in at.tabs] == list(LEARNING_PATHS)
    models = at.dataframe[0].value
    assert set(models["key"]) >= {"tiny-lm", "tiny-lm-draft", "tiny-clip", "minilm"}


def test_every_learning_path_step_names_a_real_page():
    assert set(PAGE_FILES) == set(PAGE_SUMMARIES)
    for path in PAGE_FILES.values():
        assert (ROOT / path).exists()
    for steps in LEARNING_PATHS.values():
        for page, _ in steps:
            assert page in PAGE_FILES
