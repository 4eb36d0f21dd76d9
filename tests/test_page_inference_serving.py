"""The Inference page's Serving section in AppTest: defaults, every widget moved, bad combos, the measurement."""
from tests.conftest import assert_ok, open_page


def serving_page():
    at = open_page("app_pages/inference.py")
    at.segmented_control(key="section").set_value("Serving")
    at.run()
    return at


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_defaults_render_the_four_servers():
    at = serving_page()
    assert_ok(at, "Inference")
    assert any("Serving" in h.value for h in at.header)
    ratio = float(metric(at, "continuous ÷ static throughput").rstrip("×"))
    assert ratio >= 2.0  # the default bursty trace
    assert int(metric(at, "KV utilisation, paged").rstrip("%")) >= 90
    assert int(metric(at, "KV utilisation, contiguous").rstrip("%")) < 50
    assert at.query_params["sv_server"] == "continuous + paged"  # the URL holds the state


def test_widgets_change_the_simulation():
    at = serving_page()
    before = metric(at, "continuous ÷ static throughput")
    at.toggle(key="sv_bursty").set_value(False)
    at.slider(key="sv_rate").set_value(5.0)
    at.selectbox(key="sv_dist").set_value("fixed")
    at.run()
    assert_ok(at, "Inference")
    assert metric(at, "continuous ÷ static throughput") != before
    at.selectbox(key="sv_server").set_value("static + contiguous")
    at.slider(key="sv_at").set_value(80)
    at.select_slider(key="sv_block_size").set_value(4)
    at.run()
    assert_ok(at, "Inference")


def test_absurd_memory_is_raised_with_a_message():
    at = serving_page()
    at.slider(key="sv_blocks").set_value(16)
    at.slider(key="sv_max_new").set_value(1024)
    at.slider(key="sv_prompt").set_value(512)
    at.run()
    assert_ok(at, "Inference")
    assert any("memory is raised" in w.value for w in at.warning)


def test_batched_generation_is_measured():
    at = serving_page()
    at.select_slider(key="sv_bmax").set_value(4)
    at.slider(key="sv_new").set_value(8)
    at.button(key="sv_measure").click()
    at.run()
    assert_ok(at, "Inference")
    assert any("equals greedy on each prompt alone" in s.value for s in at.success)
    assert any("tokens/s" in d.value.columns for d in at.dataframe)
    at.button(key="sv_use_cost").click()
    at.run()
    assert_ok(at, "Inference")
    assert at.number_input(key="sv_step_ms").value != 7.0
