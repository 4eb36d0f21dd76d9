"""The Inference page's Quantization section in AppTest: defaults, the widgets moved, the measurement."""
from tests.conftest import assert_ok, open_page


def quant_page():
    at = open_page("app_pages/inference.py")
    at.segmented_control(key="section").set_value("Quantization")
    at.run()
    return at


def test_defaults_render_the_matrix_views_and_methods():
    at = quant_page()
    assert_ok(at, "Inference")
    assert any("Quantization" in h.value for h in at.header)
    labels = [m.label for m in at.metric]
    assert {"BF16: ‖W−Ŵ‖ / ‖W‖", "NF4: ‖W−Ŵ‖ / ‖W‖"} <= set(labels)
    errors = {m.label.split(":")[0]: float(m.value.rstrip("%")) for m in at.metric if "‖W−Ŵ‖" in m.label}
    assert errors["BF16"] < errors["INT8"] < errors["NF4"]  # finer grid, smaller error
    assert at.query_params["q_matrix"] == "up_proj" and at.query_params["q_group"] == "64"
    assert any(b.label == "Measure" for b in at.button)


def test_widgets_change_matrix_grid_and_groups():
    at = quant_page()
    before = [m.value for m in at.metric]
    at.segmented_control(key="q_format").set_value("FP4")
    at.selectbox(key="q_matrix").set_value("down_proj")
    at.number_input(key="q_layer").set_value(0)
    at.run()
    assert_ok(at, "Inference")
    assert [m.value for m in at.metric] != before  # another matrix: other errors
    assert at.query_params["q_layer"] == "0" and at.query_params["q_format"] == "FP4"
    at.segmented_control(key="q_group").set_value("per row")
    at.run()
    assert_ok(at, "Inference")
    assert any("model.layers.0.mlp.down_proj" in c.value for c in at.caption)


def test_measure_compares_six_variants():
    at = quant_page()
    at.slider(key="q_prompts").set_value(1)
    at.slider(key="q_tokens").set_value(4)
    at.slider(key="q_reps").set_value(1)
    at.select_slider(key="q_ppl").set_value(256)
    at.button(key="q_measure").click()
    at.run()
    assert_ok(at, "Inference")
    table = next(d.value for d in at.dataframe if "size / FP32" in d.value.columns)
    assert list(table["variant"]) == ["FP32", "BF16", "INT8 dynamic", "LLM.int8", "NF4", "FP4"]
    assert table["size / FP32"].iloc[0] == 1.0 and (table["size / FP32"].iloc[1:] < 0.6).all()
    assert (table["ms / token"] > 0).all()
