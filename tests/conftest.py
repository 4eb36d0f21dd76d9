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
    """Run Home.py in AppTest, switch to `page` (e.g. 'app_pages/transformer.py'), run it, return the AppTest."""
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


# ---- shared by the fine-tuning tests (tests/test_finetun*.py) ---------------------------------------------------
@pytest.fixture(scope="module")
def one_torch_thread():
    """One thread: these tiny runs gain little from a second, and on a busy shared machine a second thread waiting
    for a core stalls every op (the fine-tuning files: 137 s on 2 threads, 36 s on 1, load ~6). A module opts in
    with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`. LLM_LAB_THREADS=1 too, for the app's own
    set_threads() when a page test runs it first."""
    import torch

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLM_LAB_THREADS", "1")
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer():
    """The bundled byte-level BPE tokenizer of tiny-lm."""
    from transformers import AutoTokenizer

    from core.models import MODELS_DIR

    return AutoTokenizer.from_pretrained(MODELS_DIR / "tokenizer")


@pytest.fixture(scope="module")
def tiny(tokenizer):
    """A random 2-layer Llama (C=32, 4 heads, 2 KV heads, head dim 8, I=64): GQA like tiny-lm, but fast to train."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=1)
    torch.manual_seed(0)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def real():
    """The bundled tiny-lm and its tokenizer: (model, tokenizer)."""
    from core.models import load_causal_lm

    return load_causal_lm("tiny-lm")


def snapshot(model) -> dict:
    """A copy of every tensor of the model's state, for assert_unchanged."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before: dict) -> None:
    """Every tensor of the model's state equals its `snapshot`, bit for bit."""
    import torch

    after = model.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(after[k], v), k


def qa_batch(tokenizer, n: int = 4):
    """The first n held-out QA pairs as (input_ids, attention_mask), each (n, T)."""
    from core.finetuning.finetune import encode_pairs, load_task

    ids, labels = encode_pairs(tokenizer, load_task()[1][:n])
    return ids, (labels != -100).long()


def fake_method(method: str, trainable: int, held: float):
    """A peft_families.MethodResult written by hand, for charts and the guide."""
    from core.finetuning import peft_families as pf

    return pf.MethodResult(method=method, trainable=trainable, formula=trainable, base_total=1000,
                           losses=(3.0, 2.0), step_ms=5.0, peak_bytes=2**20, heldout_loss=held,
                           answers=("a", "b", "c"), merge_max_diff=float("nan"), merged_extra_modules=-1,
                           stopped_early=False)


@pytest.fixture
def fake_comparison():
    """A PeftComparison of full (1,000 trainable), lora (10) and ia3 (3) over a 1,000-parameter base."""
    from core.finetuning import peft_families as pf

    return pf.PeftComparison(config=pf.PeftConfig(), base_heldout_loss=6.0, base_answers=("x", "y", "z"),
                             results=(fake_method("full", 1000, 2.0), fake_method("lora", 10, 3.0),
                                      fake_method("ia3", 3, 4.0)), threads=1)
