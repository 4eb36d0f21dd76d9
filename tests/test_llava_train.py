"""The tiny LLaVA: projector shapes, visual tokens before the text, the loss on the answer tokens only,
cached greedy decoding equal to uncached, and the built asset answering held-out pictures better than blind."""
import json

import pytest
import torch

from core.multimodal import llava
from core.multimodal.llava_train import (
    IGNORE,
    LlavaTrainConfig,
    collate,
    llava_loss,
    train_stage,
)
from core.multimodal.shapes import Spec, draw_pictures, random_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # `tiny` (conftest): a random 2-layer Llama, C = 32


def test_projector_maps_patches_to_lm_width():
    projector = llava.Projector(64, 192)
    assert projector(torch.randn(3, 16, 64)).shape == (3, 16, 192)  # (B, N, C_v) -> (B, N, C)
    assert sum(p.numel() for p in projector.parameters()) == 64 * 192 + 192 + 192 * 192 + 192


def test_visual_tokens_come_before_the_text(tiny):
    embed = tiny.get_input_embeddings()
    visual = torch.randn(2, 16, 32)
    text_ids = torch.tensor([[5, 6, 7], [8, 9, 10]])
    joined = llava.join(visual, text_ids, embed)
    assert joined.shape == (2, 16 + 3, 32)
    assert torch.equal(joined[:, :16], visual)
    assert torch.equal(joined[:, 16:], embed(text_ids))
    assert torch.equal(llava.join(None, text_ids, embed), embed(text_ids))  # the blind baseline: text alone


def test_prompts_and_answers():
    spec = Spec("square", "orange", "top")
    assert llava.prompt_text("shape") == " What shape is it?"
    assert [llava.answer_text(spec, t) for t in llava.TASKS] == ["an orange square at the top", "orange", "square",
                                                                  "at the top"]
    assert llava.parse_caption("an orange square at the top") == {"colour": "orange", "shape": "square", "position": "top"}
    assert llava.parse_caption("a red blue thing") == {"colour": None, "shape": None, "position": None}


def test_labels_cover_only_the_answer(tokenizer):
    specs = [Spec("circle", "red", "left"), Spec("triangle", "purple", "centre")]
    text_ids, labels, mask = collate(tokenizer, specs, ["colour", "caption"])
    for i, (spec, task) in enumerate(zip(specs, ["colour", "caption"])):
        n_prompt = len(tokenizer(llava.prompt_text(task), add_special_tokens=False)["input_ids"])
        assert (labels[i, :n_prompt] == IGNORE).all()
        answer = labels[i][labels[i] != IGNORE].tolist()
        assert answer[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(answer[:-1]) == " " + llava.answer_text(spec, task)
        assert torch.equal(text_ids[i, mask[i].bool()][n_prompt:], torch.tensor(answer))
    assert (labels[0, mask[0] == 0] == IGNORE).all()  # padding is never a target


def test_loss_is_cross_entropy_on_answer_tokens_only(tiny, tokenizer):
    specs = [random_spec(s) for s in range(3)]
    text_ids, labels, mask = collate(tokenizer, specs, ["colour", "position", "caption"])
    visual = torch.randn(3, 16, 32)
    loss = llava_loss(tiny, visual, text_ids, labels, mask)
    # the same loss by hand: logits at position t predict the token at t + 1, answer positions only
    logits = tiny(inputs_embeds=llava.join(visual, text_ids, tiny.get_input_embeddings()),
                     attention_mask=torch.cat([torch.ones(3, 16, dtype=torch.long), mask], 1)).logits[:, 16:]
    picked = [(i, t) for i in range(3) for t in range(1, labels.shape[1]) if labels[i, t] != IGNORE]
    nll = [-torch.log_softmax(logits[i, t - 1], -1)[labels[i, t]] for i, t in picked]
    assert loss.item() == pytest.approx(torch.stack(nll).mean().item(), abs=1e-5)
    assert len(picked) == int((labels != IGNORE).sum())  # every answer token and end-of-text, nothing else


def test_a_few_steps_train_only_the_given_parameters(tiny, tokenizer):
    projector = llava.Projector(64, 32)
    before = {k: v.clone() for k, v in tiny.state_dict().items()}
    specs = [random_spec(s) for s in range(8)]
    cfg = LlavaTrainConfig(batch_size=4, warmup=1)
    losses = train_stage(projector, tiny.requires_grad_(False), tokenizer, torch.randn(8, 16, 64), specs,
                         ("caption",), list(projector.parameters()), 3, 1e-2, cfg, seed=0)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert all(torch.equal(v, tiny.state_dict()[k]) for k, v in before.items())  # stage 1: the LM stays frozen


def test_cached_greedy_equals_uncached(tiny):
    torch.manual_seed(1)
    prompt = torch.randn(2, 7, 32)
    cached = llava.greedy_generate(tiny, prompt, eos_id=-1, max_new_tokens=5)
    embeds, uncached = prompt, []
    with torch.no_grad():
        for _ in range(5):
            next_ids = tiny(inputs_embeds=embeds).logits[:, -1].argmax(-1)  # (B,)
            uncached.append(next_ids)
            embeds = torch.cat([embeds, tiny.get_input_embeddings()(next_ids)[:, None]], 1)
    assert cached == torch.stack(uncached, 1).tolist()


# ---- the built asset -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built():
    from core import models

    try:
        models.model_path("tiny-llava")
    except FileNotFoundError as err:
        pytest.skip(str(err))
    return llava.load_tiny_llava()


def test_asset_stores_only_the_additions(built):
    from core import models

    folder = models.model_path("tiny-llava")
    assert sum(f.stat().st_size for f in folder.iterdir()) < 2 * 2**20
    assert json.loads((folder / "config.json").read_text())["vision_feature_layer"] == -2
    trace = llava.llava_trace(built, draw_pictures([random_spec(2_000_000)])[0], "colour")
    assert trace.rows[4][1] == (1, 16, 192) and trace.rows[6][1] == (1, 16 + trace.n_text_tokens, 192)
    assert len(trace.nearest) == 16


def test_built_model_sees_the_colour(built):
    specs = llava.heldout_specs(36, seed=1)
    pictures = draw_pictures(specs, built.prep.image_size)
    truths = [s.colour for s in specs]
    seen = sum(a == t for a, t in zip(llava.answer(built, pictures, "colour"), truths)) / len(specs)
    blind = sum(a == t for a, t in zip(llava.answer(built, pictures, "colour", with_image=False), truths)) / len(specs)
    majority = llava.majority_baseline(specs)["colour"]
    assert seen >= max(blind, majority) + 0.3, (seen, blind, majority)


def test_merged_lora_equals_the_adapter(tiny):
    """load_tiny_llava merges the LoRA into the weights (W + (α/r)·B·A): the same logits as the adapter on top."""
    import copy

    from peft import LoraConfig, get_peft_model

    from core.multimodal.llava_train import lora_config

    peft_lm = get_peft_model(copy.deepcopy(tiny), LoraConfig(**lora_config(LlavaTrainConfig())))
    torch.manual_seed(0)
    for name, p in peft_lm.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # B starts at 0 (the adapter is then a no-op): make it matter
    embeds = torch.randn(2, 9, 32)
    with torch.no_grad():
        unmerged = peft_lm(inputs_embeds=embeds).logits
        merged = peft_lm.merge_and_unload()(inputs_embeds=embeds).logits
        base = tiny(inputs_embeds=embeds).logits
    assert torch.allclose(merged, unmerged, atol=1e-5)
    assert not torch.allclose(merged, base, atol=1e-3)
