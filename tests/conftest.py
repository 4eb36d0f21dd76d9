"""Shared test helpers. Tests are hermetic: no network, the hub is switched off."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LONG_TEXT = "lorem ipsum " * 8534  # ~100 kB
ODD_TEXTS = ["", "   \n\t ", LONG_TEXT, "Ünïcødé 日本語のテキスト 🤖 ∑ √ ≠"]


def open_page(page: str, timeout: float = 120):
    """Run Home.py in AppTest, switch to `page` (e.g. 'pages/transformer.py'), run it, return the AppTest."""
    from streamlit.testing.v1 import AppTest

    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=timeout)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def assert_ok(at, title: str) -> None:
    """No exception on the page, and its own title is shown (so a silent fallback cannot pass)."""
    assert not at.exception, [e.value for e in at.exception]
    titles = [t.value for t in at.title]
    assert any(title in t for t in titles), f"expected title containing {title!r}, got {titles}"


@pytest.fixture
def page():
    return open_page
