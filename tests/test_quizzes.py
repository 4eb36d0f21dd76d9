"""Every page's quiz is well formed, points at a real section, and its numeric answers are what core/ computes."""
import ast
import dataclasses
import functools
import json
import math

import numpy as np
import pytest
import torch

from core.content.home import PAGE_FILES
from core.content.quizzes import QUIZZES
from tests.conftest import ROOT, open_page


# ---- where a page's sections are declared (parsed, not run: a page runs Streamlit when imported) -----------
@functools.cache
def inference_sections() -> tuple[str, ...]:
    """The choices of the Inference page's `section` Param: the keys of its SECTIONS dict."""
    tree = ast.parse((ROOT / PAGE_FILES["Inference"]).read_text(encoding="utf-8"))
    params = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Param"
              and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "section"]
    choices = next(k.value for k in params[0].keywords if k.arg == "choices")
    assert ast.unparse(choices) == "tuple(SECTIONS)", "the section Param's choices are no longer SECTIONS"
    sections = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", None) == "SECTIONS" for t in n.targets))
    return tuple(k.value for k in sections.keys)


@functools.cache
def page_headers(page: str) -> frozenset[str]:
    """Texts of the st.header / st.subheader calls with a literal text in the page's file."""
    tree = ast.parse((ROOT / PAGE_FILES[page]).read_text(encoding="utf-8"))
    return frozenset(n.args[0].value for n in ast.walk(tree)
                     if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                     and n.func.attr in ("header", "subheader") and n.args and isinstance(n.args[0], ast.Constant)
                     and isinstance(n.args[0].value, str))


def page_sections(page: str) -> set[str]:
    """What a question or glossary entry may name as its section on `page`."""
    return set(inference_sections()) if page == "Inference" else page_headers(page)


def answer_of(page: str, words: str) -> str:
    """The right option of the one question on `page` whose text contains `words`."""
    (q,) = [q for q in QUIZZES[page] if words in q.question]
    return q.options[q.answer]


# ---- form -----------------------------------------------------------------------------------------------------
def test_every_page_has_at_least_six_well_formed_questions():
    assert set(QUIZZES) == set(PAGE_FILES)
    for page, questions in QUIZZES.items():
        assert len(questions) >= 6, page
        assert len({q.question for q in questions}) == len(questions), page
        for q in questions:
            assert len(q.options) == 4 and len(set(q.options)) == 4, q.question  # a lost comma would merge two
            assert isinstance(q.answer, int) and 0 <= q.answer < len(q.options), q.question
            assert q.why.strip() and q.question.strip() and all(o.strip() for o in q.options), q.question


def test_every_question_links_back_to_a_section_of_its_page():
    assert inference_sections() == ("Decoding", "KV cache", "Quantization", "Speculative decoding", "Serving",
                                    "Where the time goes")
    for page, questions in QUIZZES.items():
        sections = page_sections(page)
        assert sections, f"{page} has no sections to link to"
        for q in questions:
            assert q.section in sections, (page, q.section, sorted(sections))


def test_the_inference_quiz_covers_every_section():
    assert {q.section for q in QUIZZES["Inference"]} == set(inference_sections())


# ---- numeric answers, recomputed from core -----------------------------------------------------------------
def test_kv_cache_figures_come_from_the_kv_calculator():
    from core.inference import kv_cache as kv

    shape = {m.name: m for m in kv.PUBLISHED_MODELS}
    assert answer_of("Inference", "Llama-2-7B") == f"{kv.kv_bytes_per_token(shape['Llama-2-7B']) // kv.KIB} KiB"
    assert answer_of("Inference", "Llama-2-70B") == f"{kv.kv_bytes_per_token(shape['Llama-2-70B']) // kv.KIB} KiB"
    falcon = shape["Falcon-7B"]
    assert (falcon.heads, falcon.kv_heads, falcon.kind) == (71, 1, "MQA")
    assert answer_of("Inference", "Falcon-7B") == f"{kv.kv_bytes_per_token(falcon) // kv.KIB} KiB"
    as_mha = dataclasses.replace(falcon, kv_heads=falcon.heads)
    assert f"MHA's {kv.kv_bytes_per_token(as_mha) // kv.KIB} KiB" in next(
        q.why for q in QUIZZES["Inference"] if "Falcon-7B" in q.question)


def test_absmax_int8_error_is_at_most_absmax_over_254():
    from core.inference.quant_formats import absmax_int8

    absmax, step = 0.5, 0.5 / 127
    # weights just off the midpoints between levels: the worst case rounding can meet
    worst = (torch.arange(-126, 126, dtype=torch.float64) + 0.5) * step + 1e-9
    row = torch.cat([torch.tensor([absmax], dtype=torch.float64), worst])[None]  # (1, I)
    error = (absmax_int8(row) - row).abs().max().item()
    assert error <= absmax / 254 + 1e-12 and error == pytest.approx(absmax / 254, rel=1e-6)
    assert answer_of("Inference", "Absmax INT8") == f"0.5/254 ≈ {absmax / 254:.5f}"


def test_top_p_keeps_the_answer_count():
    from core.inference.decoding import top_p_filter

    kept = torch.isfinite(top_p_filter(torch.tensor([0.5, 0.3, 0.15, 0.05]).log(), 0.9)).sum().item()
    assert answer_of("Inference", "top-p = 0.9") == str(kept)


def test_speculative_and_roofline_and_perplexity_figures():
    from core.inference.batching import roofline_tokens_per_s
    from core.inference.speculative import expected_speedup

    assert answer_of("Inference", "expected speedup") == f"{expected_speedup(0.8, 4, 0.1):.1f}×"
    flop_bound, memory_bound = roofline_tokens_per_s(7e9, 312e12, 2e12, bytes_per_param=2)
    assert answer_of("Inference", "2 TB/s") == f"{memory_bound:.0f} tokens/s"
    assert f"about {round(flop_bound, -3):,.0f}" in next(q.why for q in QUIZZES["Inference"] if "2 TB/s" in q.question)
    assert answer_of("Inference", "3.0 nats") == f"{math.exp(3.0):.0f}"


def test_transformer_figures():
    from core.transformer.next_token import entropy_bits, softmax_with_temperature

    assert answer_of("Transformer", "logits (2, 1, 0)") == f"{softmax_with_temperature(np.array([2, 1, 0]), 1.0)[0]:.2f}"
    assert answer_of("Transformer", "largest entropy") == f"{entropy_bits(np.full(4096, 1 / 4096)):.0f} bits"
    C, H = 384, 12
    D = C // H
    assert H * 4 * C * D == 4 * C * C  # H heads, each projecting C -> D four times, are four C x C matrices
    assert answer_of("Transformer", "12 heads") == f"the same number of weights, 4·C² = {4 * C * C:,}"
    assert answer_of("Transformer", "8,192-token") == f"{(8192 // 2048) ** 2}×"


def test_pretraining_figures_match_the_bundled_model():
    from core.pretraining.tokenization import N_BASE

    config = json.loads((ROOT / "assets" / "models" / "tiny-lm" / "config.json").read_text())
    assert config["tie_word_embeddings"] and (config["vocab_size"], config["hidden_size"]) == (4096, 192)
    assert answer_of("Pretraining", "shared table") == f"{config['vocab_size'] * config['hidden_size']:,}"
    assert answer_of("Pretraining", "How many merges") == f"{4096 - N_BASE:,}"


def test_lora_count_comes_from_the_fine_tuning_formula():
    from transformers import LlamaConfig

    from core.finetuning.finetune import lora_parameter_count

    one_layer = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=1, num_attention_heads=32,
                            num_key_value_heads=32, vocab_size=32000)
    per_matrix = lora_parameter_count(one_layer, 8, "qv") // 2  # q_proj and v_proj, both 4096 × 4096
    assert answer_of("Fine-tuning", "rank r = 8 on a 4,096") == f"{per_matrix:,}" == f"{2 * 4096 * 8:,}"
    gradient_and_adam_bytes = 4 + 2 * 4  # FP32 gradient + two FP32 moments, as the page's table counts
    assert answer_of("Fine-tuning", "7 × 10⁹") == f"{gradient_and_adam_bytes * 7e9 / 1e9:.0f} GB"


def test_multimodal_figures():
    from core.multimodal.clip import info_nce
    from core.multimodal.patches import patchify

    assert answer_of("Multimodal", "224×224 image") == str(len(patchify(np.zeros((224, 224, 3)), 16)))
    chance = info_nce(torch.zeros(8, 8)).item()
    assert chance == pytest.approx(math.log(8)) and answer_of("Multimodal", "B = 8") == f"ln 8 ≈ {chance:.2f}"
    assert answer_of("Multimodal", "B = 12") == str(12 * 12 - 12)
    assert answer_of("Multimodal", "ViT-L/14") == str(len(patchify(np.zeros((224, 224, 3)), 14)))


def test_bm25_figures_come_from_the_search_tool():
    from core.agents.tools import bm25_idf, bm25_scores, build_bm25

    assert answer_of("Agents", "N = 68") == f"{bm25_idf(68, 1):.2f}"
    # two entries of the same length (so of average length), "x" 10 times in one and once in the other
    index = build_bm25([["x"] * 10, ["x"] + [f"w{i}" for i in range(9)]])
    many, once = bm25_scores(index, ["x"], k1=1.5)
    assert answer_of("Agents", "10 times") == f"about {many / once:.1f}×"


def test_rag_figures_come_from_retrieval_and_chunking():
    from core.rag import chunking
    from core.rag import retrieval as rag

    found, true = np.array([[0, 1, 2, 3, 4, 5, 6, 70, 80, 90]]), np.arange(10)[None]
    assert answer_of("RAG & long context", "recall@10") == f"{rag.recall_at_k(found, true):.1f}"
    assert answer_of("RAG & long context", "2,000-character") == str(len(chunking.fixed_spans(0, 2000, 400, 80)))
    vectors = np.random.default_rng(0).standard_normal((10_000, 384)).astype(np.float32)
    flat_bytes = rag.index_bytes(rag.build_index(vectors, "flat"))
    assert answer_of("RAG & long context", "flat index of 10,000") == f"{flat_bytes / 1e6:.1f} MB"
    assert answer_of("RAG & long context", "24 bytes") == f"{384 * 4 // 24}×"
    assert answer_of("RAG & long context", "mean reciprocal rank") == f"{(1 / 1 + 1 / 3 + 0) / 3:.2f}"


# ---- on the page ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page,name", [("app_pages/agents.py", "Agents"), ("app_pages/rag.py", "RAG & long context")])
def test_answering_shows_right_or_wrong(page, name):
    at = open_page(page)
    first = QUIZZES[name][0]
    radio = at.radio(key=f"quiz_{name}_0")
    radio.set_value(first.options[first.answer]).run()
    assert any(first.why in s.value for s in at.success)
    wrong = next(o for i, o in enumerate(first.options) if i != first.answer)
    at.radio(key=f"quiz_{name}_0").set_value(wrong).run()
    assert any(first.why in e.value for e in at.error)
