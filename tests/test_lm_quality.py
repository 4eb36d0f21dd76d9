"""The bundled language models: perplexity far below a unigram model's, and English-like samples."""
import json
import re

import pytest
import torch

from core import models
from core.pretraining.data import corpus_text
from core.pretraining.training import perplexity, unigram_perplexity

MAX_TOKENS = 20_000  # a bounded slice of the 51k held-out tokens keeps this test to a few seconds


def token_stream(tokenizer, split):
    ids = []
    for line in corpus_text(split).splitlines():
        ids.extend(tokenizer.encode(line) + [tokenizer.eos_token_id])
    return torch.tensor(ids)


@pytest.fixture(scope="module")
def streams():
    _, tokenizer = models.load_causal_lm("tiny-lm")
    return tokenizer, token_stream(tokenizer, "train"), token_stream(tokenizer, "heldout")[:MAX_TOKENS]


def test_target_perplexity_is_at_most_a_third_of_unigram(streams):
    tokenizer, train_ids, heldout_ids = streams
    model, _ = models.load_causal_lm("tiny-lm")
    draft, _ = models.load_causal_lm("tiny-lm-draft")
    unigram = unigram_perplexity(train_ids, heldout_ids, len(tokenizer))
    target_ppl, draft_ppl = perplexity(model, heldout_ids), perplexity(draft, heldout_ids)
    assert target_ppl <= unigram / 3, (target_ppl, unigram)
    assert target_ppl < draft_ppl < unigram, (target_ppl, draft_ppl, unigram)


def test_reported_figures_match_the_bundled_models():
    report = json.loads((models.MODELS_DIR / "lm_report.json").read_text())
    assert report["tiny-lm"]["heldout_perplexity"] <= report["unigram_heldout_perplexity"] / 3
    readme = (models.MODELS_DIR / "README.md").read_text()
    for figure in (report["unigram_heldout_perplexity"], report["tiny-lm"]["heldout_perplexity"],
                   report["tiny-lm-draft"]["heldout_perplexity"]):
        assert f"{figure:.1f}" in readme


def test_samples_are_made_of_english_words():
    model, tokenizer = models.load_causal_lm("tiny-lm")
    vocabulary = set(re.findall(r"[a-z]+", corpus_text("train").lower()))
    torch.manual_seed(0)
    prompt = tokenizer("And the LORD said", return_tensors="pt")
    out = model.generate(**prompt, max_new_tokens=60, do_sample=True, temperature=0.8, top_k=50,
                         pad_token_id=tokenizer.pad_token_id, suppress_tokens=[tokenizer.eos_token_id])
    words = re.findall(r"[a-z]+", tokenizer.decode(out[0, prompt.input_ids.shape[1]:]).lower())
    assert len(words) >= 20
    known = sum(w in vocabulary for w in words) / len(words)
    assert known >= 0.9, (known, words)
