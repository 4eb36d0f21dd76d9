"""The foundation: core imports without Streamlit, URL state parsing, the corpus, the model registry."""
import subprocess
import sys

import pytest

from core import models
from core.pretraining import data
from core.state import Param
from tests.conftest import ROOT


def test_core_does_not_import_streamlit():
    code = ("import sys, pkgutil, importlib, core\n"
            "for m in pkgutil.walk_packages(core.__path__, 'core.'):\n"
            "    importlib.import_module(m.name)\n"
            "assert 'streamlit' not in sys.modules, 'core imported streamlit'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_no_eval_or_exec_in_app_code():
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("app_pages/*.py"), *ROOT.glob("ui/**/*.py"), ROOT / "Home.py"]:
        text = path.read_text()
        for banned in (" eval(", " exec(", "=eval(", "(eval(", "(exec("):
            assert banned not in text, f"{banned.strip()} in {path}"


@pytest.mark.parametrize("raw,expected", [("4", 4), ("99", 8), ("-3", 1), ("2.7", 2), ("x", 3), ("", 3), ("nan", 3)])
def test_int_param_is_clamped_and_falls_back(raw, expected):
    assert Param("k", 3, 1, 8).parse(raw) == expected


def test_float_str_bool_params():
    assert Param("t", 1.0, 0.05, 2.0).parse("0.7") == 0.7
    assert Param("t", 1.0, 0.05, 2.0).parse("inf") == 1.0
    assert Param("t", 1.0, 0.05, 2.0).parse("1e9") == 2.0
    assert Param("s", "a", choices=("a", "b")).parse("c") == "a"
    assert Param("s", "a", choices=("a", "b")).parse("b") == "b"
    assert Param("q", "hi", max_len=5).parse("x" * 100) == "xxxxx"
    assert Param("b", False).parse("true") is True and Param("b", True).parse("nope") is True
    assert Param("b", False).dump(True) == "true"
    assert Param("q", "hi", max_len=5).dump("x" * 100) == "xxxxx"


def test_corpus_splits_partition_the_verses():
    verses = data.load_verses()
    train, heldout = data.split_verses()
    assert len(verses) == 31102 and len(train) + len(heldout) == len(verses)
    assert 0.04 < len(heldout) / len(verses) < 0.06
    held_chapters = {(v.book, v.chapter) for v in heldout}
    assert not held_chapters & {(v.book, v.chapter) for v in train}


def test_registry_reports_every_model():
    rows = {r["key"]: r for r in models.availability()}
    assert set(rows) == set(models.SPECS)
    for key in ("tiny-lm", "tiny-lm-draft", "tiny-clip", "minilm"):
        assert rows[key]["available"], rows[key]["why"]
    assert not rows["gpt2"]["available"] and "hub" in rows["gpt2"]["why"]


def test_registry_loads_every_bundled_model():
    for key in ("tiny-lm", "tiny-lm-draft"):
        model, tokenizer = models.load_causal_lm(key)
        assert type(model).__name__ == "LlamaForCausalLM" and len(tokenizer) == model.config.vocab_size
    encoder, tokenizer = models.load_encoder()
    assert encoder.config.num_hidden_layers == 6 and encoder.config.num_attention_heads == 12
    clip, _ = models.load_clip()
    assert type(clip).__name__ == "CLIPModel"
    assert models.load_sentence_embedder().encode(["hello"]).shape == (1, 384)


def test_no_emoji_in_what_the_pages_show():
    """Emoji show as empty boxes in a browser without an emoji font (the headless test browser, many projector PCs):
    the pages use Streamlit's Material icons (':material/...:') instead. ✓ and ✗ are plain symbols every font has."""
    import re
    from pathlib import Path

    emoji = re.compile("[\U0001F300-\U0001FAFF\u2600-\u26FF\u2700-\u27BF\u2B50\u2B55]")
    root = Path(__file__).resolve().parents[1]
    for path in [root / "Home.py", *root.glob("app_pages/*.py"), *root.glob("ui/**/*.py")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found = [c for c in emoji.findall(line) if c not in "✓✗"]
            assert not found, f"{path.relative_to(root)}:{n}: {found}"


def test_no_pages_folder_beside_the_entry_point():
    # With a `pages/` folder beside Home.py, Streamlit starts in its old multipage mode until some session has
    # run Home.py's st.navigation: the first visitors of a fresh server who open a deep link (/transformer?...)
    # got the page alone, without Home.py (no page config, presenter mode, glossary or run log).
    from conftest import ROOT
    from streamlit.runtime.pages_manager import PagesManager

    from bench.load import home_page_files

    assert not (ROOT / "pages").exists()
    assert "uses_pages_directory" in vars(PagesManager)  # the flag this guards against still exists upstream
    assert all((ROOT / p.file).exists() for p in home_page_files())
