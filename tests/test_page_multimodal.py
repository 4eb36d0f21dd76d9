"""AppTest of the Multimodal page: it opens, its widgets work, uploads are validated."""
import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_ok, open_page

PAGE = "pages/multimodal.py"


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def charts_of(at) -> list:
    return at.get("vega_lite_chart")


@pytest.fixture(scope="module")
def at():
    return open_page(PAGE)


def test_opens_with_all_sections(at):
    assert_ok(at, "Multimodal")
    headers = " ".join(h.value for h in at.header)
    for part in ("diagonal", "Zero-shot", "patches", "LLaVA", "The math"):
        assert part in headers, headers
    assert len(charts_of(at)) >= 5  # two heatmaps, top prompts, marginals, token counts
    assert not at.error
    # the default picture (a red circle on the left) is classified correctly by the bundled model
    assert any("✅ correct" in m.value for m in at.markdown), [m.value for m in at.markdown if "Prediction" in m.value]
    # patch maths for the default P = 16 on the 96×96 picture: 6·6 = 36 tokens
    assert any("= 36" in latex.value for latex in at.latex)


def test_widgets_change_the_page(at):
    at.slider(key="batch").set_value(5).run()
    at.selectbox(key="shape").set_value("triangle").run()
    at.selectbox(key="colour").set_value("blue").run()
    at.radio(key="labels").set_value("colour + shape + position").run()
    at.select_slider(key="patch").set_value(8).run()
    assert_ok(at, "Multimodal")
    assert any("= 144" in latex.value for latex in at.latex)
    assert any("blue triangle" in m.value for m in at.markdown if "Prediction" in m.value)
    assert at.query_params["patch"] == ["8"] or at.query_params["patch"] == "8"
    at.button(key="new_batch").click().run()
    at.button(key="random_picture").click().run()
    at.radio(key="view").set_value("softmax").run()
    assert_ok(at, "Multimodal")
    assert at.number_input(key="batch_seed").value == 1


def test_llava_toggle_runs_the_wiring(at):
    at.toggle(key="llava").set_value(True).run()
    assert_ok(at, "Multimodal")
    assert at.dataframe or at.warning  # the shape table, or the tiny LM is not built (a warning says so)


def test_upload_valid_and_invalid_files():
    at = open_page(PAGE)
    at.radio(key="source").set_value("upload").run()
    assert_ok(at, "Multimodal")
    assert any("Upload a picture" in i.value for i in at.info)

    picture = np.full((80, 120, 3), 255, np.uint8)
    picture[30:50, 10:30] = (40, 75, 215)  # a blue square on the left, on white
    at.file_uploader(key="upload").set_value(("square.png", png(picture), "image/png")).run()
    assert_ok(at, "Multimodal")
    assert not at.error
    assert any("Prediction" in m.value for m in at.markdown)

    at.file_uploader(key="upload").set_value(("broken.png", b"this is not a picture", "image/png")).run()
    assert_ok(at, "Multimodal")
    assert any("not a PNG or JPEG" in e.value for e in at.error)


def test_url_state_is_read():
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=120)
    at.query_params.update({"patch": "24", "shape": "cross", "colour": "green", "position": "top", "seed": "5",
                            "batch": "99"})
    at.run()
    at.switch_page(PAGE).run()
    assert_ok(at, "Multimodal")
    assert at.selectbox(key="shape").value == "cross" and at.select_slider(key="patch").value == 24
    assert at.slider(key="batch").value == 12  # out of range in the URL: clamped
    assert any("= 16" in latex.value for latex in at.latex)
