"""Two pretraining objectives on the same text: masked LM (BERT) against causal LM (GPT).

CLM (GPT, Radford et al. 2018): the model reads tokens x_1..x_T with a causal mask and at every
position t predicts x_{t+1}. Labels are the inputs shifted by one; every position but the last
is a target: T - 1 predictions per window.

MLM (BERT, Devlin et al. 2018, https://arxiv.org/abs/1810.04805): the model reads the whole window
at once (no causal mask) and predicts only a random 15% of the positions. Of those, 80% are
replaced by a mask token, 10% by a random token and 10% left unchanged, so the model cannot
learn that only [MASK] positions matter (the same draws, in the same order, as Hugging Face's
DataCollatorForLanguageModeling, so with one seed both give the same masks). Labels are -100
(no loss) everywhere else: about 0.15 · T predictions per window.

Both are trained briefly here on the same windows of the corpus, with the same width, depth and
heads: a LlamaForCausalLM and a BertForMaskedLM built from tiny seeded configs. Their losses are
cross-entropies over different targets (next token with only left context, against a hidden
token with context on both sides), so the curves show how each learns, not which is "better".

Shapes: B batch, T tokens, V vocabulary (tiny-lm's 4,096 + the mask token = 4,097), C model width.
"""
import math
import time
from dataclasses import dataclass

import torch

from core.pretraining import token_stream as ts
from core.pretraining.tokenization import readable
from core.pretraining.training import random_windows

MASK_TOKEN = "<|mask|>"
MASK_ID = 4096  # appended after tiny-lm's 4,096 tokens
VOCAB = 4097
SPECIAL_IDS = (ts.EOT_ID, ts.PAD_ID)  # never masked, like BERT's [CLS] / [SEP]
MAX_STEPS = 400
MAX_SECONDS = 60.0
MAX_SENTENCE_TOKENS = 64
ACTIONS = ("", "[MASK] (80%)", "random token (10%)", "unchanged (10%)")


# ---- the two objectives on one sentence -----------------------------------------------------------
def mask_tokens(ids: torch.Tensor, generator: torch.Generator, mlm_probability: float = 0.15,
                vocab_size: int = VOCAB, mask_id: int = MASK_ID, special_ids=SPECIAL_IDS):
    """BERT's masking: (B, T) ids -> (inputs, labels, action), each (B, T).

    action: 0 not selected, 1 replaced by the mask token, 2 by a random token, 3 kept unchanged.
    labels: the original id where selected, -100 elsewhere. The random draws (selection, 80%,
    then half of the rest, then the random ids) follow DataCollatorForLanguageModeling exactly.
    """
    labels = ids.clone()
    probability = torch.full(ids.shape, mlm_probability)
    probability.masked_fill_(torch.isin(ids, torch.tensor(special_ids)), 0.0)
    selected = torch.bernoulli(probability, generator=generator).bool()  # (B, T)
    labels[~selected] = -100
    replaced = torch.bernoulli(torch.full(ids.shape, 0.8), generator=generator).bool() & selected
    randomized = torch.bernoulli(torch.full(ids.shape, 0.5), generator=generator).bool() & selected & ~replaced
    random_ids = torch.randint(vocab_size, ids.shape, dtype=torch.long, generator=generator)
    inputs = ids.clone()
    inputs[replaced] = mask_id
    inputs[randomized] = random_ids[randomized]
    action = torch.zeros(ids.shape, dtype=torch.int8)
    action[selected] = 3
    action[replaced] = 1
    action[randomized] = 2
    return inputs, labels, action


def _show(token_id: int) -> str:
    if token_id == MASK_ID:
        return MASK_TOKEN
    return readable(ts.tokenizer().id_to_token(token_id))


@dataclass(frozen=True)
class ObjectiveView:
    objective: str  # 'CLM' or 'MLM'
    tokens: tuple[str, ...]  # the sentence's tokens, readable
    inputs: tuple[str, ...]  # what the model reads at each position
    targets: tuple[str, ...]  # what it must predict there ('' = no loss at this position)
    actions: tuple[str, ...]  # CLM: 'next token'; MLM: one of ACTIONS
    n_predicted: int


def _encode_sentence(sentence: str) -> torch.Tensor:
    ids = ts.tokenizer().encode(sentence, add_special_tokens=False).ids
    if not ids or len(ids) > MAX_SENTENCE_TOKENS:
        raise ValueError(f"the sentence must be 1..{MAX_SENTENCE_TOKENS} tokens, got {len(ids)}")
    return torch.tensor([ids])  # (1, T)


def clm_view(sentence: str) -> ObjectiveView:
    """Inputs x_1..x_T; position t predicts x_{t+1} (the last position predicts nothing here)."""
    ids = _encode_sentence(sentence)[0].tolist()
    tokens = tuple(_show(i) for i in ids)
    targets = tokens[1:] + ("",)
    actions = tuple("next token" if t else "" for t in targets)
    return ObjectiveView("CLM", tokens, tokens, targets, actions, len(ids) - 1)


def mlm_view(sentence: str, mlm_probability: float = 0.15, seed: int = 0) -> ObjectiveView:
    """BERT-style masking of one sentence, seeded; raise mlm_probability to see more positions."""
    if not 0 <= mlm_probability <= 1:
        raise ValueError(f"mlm_probability must be in 0..1, got {mlm_probability}")
    ids = _encode_sentence(sentence)
    inputs, labels, action = mask_tokens(ids, torch.Generator().manual_seed(seed), mlm_probability)
    return ObjectiveView("MLM", tuple(_show(i) for i in ids[0].tolist()), tuple(_show(i) for i in inputs[0].tolist()),
                         tuple(_show(l) if l != -100 else "" for l in labels[0].tolist()),
                         tuple(ACTIONS[a] for a in action[0].tolist()), int((labels != -100).sum()))


# ---- both trained briefly ------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectiveConfig:
    hidden_size: int = 64  # C
    layers: int = 2  # L
    heads: int = 4  # H
    intermediate_size: int = 192  # BERT's MLP width; Llama's SwiGLU gets 2/3 of it (same MLP parameters)
    seq_len: int = 64  # T
    batch_size: int = 16  # B
    steps: int = 150  # per objective, <= MAX_STEPS
    lr: float = 2e-3
    mlm_probability: float = 0.15
    eval_windows: int = 32  # held-out windows of T tokens for the final loss
    max_seconds: float = MAX_SECONDS  # for both runs together, <= MAX_SECONDS
    seed: int = 0


@dataclass(frozen=True)
class ObjectiveRun:
    objective: str  # 'CLM' or 'MLM'
    model_class: str
    parameters: int
    losses: tuple[float, ...]  # training loss of each step
    predicted_per_step: float  # mean number of positions with a loss, per batch
    heldout_loss: float  # after training, on held-out windows (MLM: one fixed masking)
    seconds: float  # wall time of training, measured when it ran


@dataclass(frozen=True)
class ObjectiveComparison:
    config: ObjectiveConfig
    clm: ObjectiveRun
    mlm: ObjectiveRun
    initial_loss: float  # ln V: the loss of a uniform guess over the vocabulary
    stopped_early: bool  # on_progress returned False, or the time cap was hit


def tiny_models(cfg: ObjectiveConfig):
    """(LlamaForCausalLM, BertForMaskedLM) of the same width, depth and heads, seeded.

    SwiGLU has three C x I' matrices where BERT's MLP has two C x I: I' = 2I/3 gives both the same
    MLP size. BERT adds learned positions, biases and its MLM head transform; Llama has RoPE.
    """
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=VOCAB, hidden_size=cfg.hidden_size, intermediate_size=2 * cfg.intermediate_size // 3,
        num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
        max_position_embeddings=max(cfg.seq_len, 64), tie_word_embeddings=True,
        bos_token_id=ts.EOT_ID, eos_token_id=ts.EOT_ID, pad_token_id=ts.PAD_ID))
    torch.manual_seed(cfg.seed)
    bert = BertForMaskedLM(BertConfig(
        vocab_size=VOCAB, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads, max_position_embeddings=max(cfg.seq_len, 64),
        type_vocab_size=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=ts.PAD_ID))
    return llama, bert


def _loss(objective: str, model, batch: torch.Tensor, mask_generator: torch.Generator) -> tuple[torch.Tensor, int]:
    """(mean cross-entropy over the targets, number of targets) for one (B, T) batch."""
    if objective == "CLM":
        return model(input_ids=batch, labels=batch).loss, batch.shape[0] * (batch.shape[1] - 1)
    inputs, labels, _ = mask_tokens(batch, mask_generator)
    n = int((labels != -100).sum())
    if n == 0:  # a batch with nothing selected has no MLM loss; count it as zero, not NaN
        return torch.zeros((), requires_grad=True), 0
    return model(input_ids=inputs, labels=labels).loss, n


def compare_objectives(cfg: ObjectiveConfig = ObjectiveConfig(), on_progress=None) -> ObjectiveComparison:
    """Train the causal and the masked model on the same windows, same steps, same optimizer.

    on_progress(fraction, message) -> bool every 10 steps and at the end of each run; False stops
    both runs where they are (the MLM run then gets as many steps as the CLM run had). Time cap:
    cfg.max_seconds in all, half for each run.
    """
    if not 1 <= cfg.steps <= MAX_STEPS or not 0 < cfg.max_seconds <= MAX_SECONDS:
        raise ValueError(f"steps must be in 1..{MAX_STEPS} and max_seconds in (0, {MAX_SECONDS}]")
    if not (cfg.batch_size * cfg.seq_len <= 4096 and cfg.seq_len <= 256 and cfg.hidden_size <= 256
            and cfg.layers <= 4 and 1 <= cfg.eval_windows <= 64):
        raise ValueError("B·T <= 4096, T <= 256, C <= 256, L <= 4, eval_windows in 1..64")
    train_ids = ts.token_stream("train", 200_000, every=5)
    heldout_ids = ts.token_stream("heldout", 20_000)
    eval_batch = random_windows(heldout_ids, cfg.eval_windows, cfg.seq_len, torch.Generator().manual_seed(1234))
    llama, bert = tiny_models(cfg)
    runs, stopped, start_all = {}, False, time.perf_counter()
    steps_allowed = cfg.steps
    for k, (objective, model) in enumerate((("CLM", llama), ("MLM", bert))):
        window_gen = torch.Generator().manual_seed(cfg.seed)  # same windows for both
        mask_gen = torch.Generator().manual_seed(cfg.seed + 1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
        model.train()
        losses, predicted, start = [], 0, time.perf_counter()
        for step in range(steps_allowed):
            batch = random_windows(train_ids, cfg.batch_size, cfg.seq_len, window_gen)  # (B, T)
            loss, n = _loss(objective, model, batch, mask_gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            predicted += n
            over_time = time.perf_counter() - start_all > cfg.max_seconds * (k + 1) / 2
            if (step + 1) % 10 == 0 or step + 1 == steps_allowed or over_time:
                fraction = (k * steps_allowed + step + 1) / (2 * steps_allowed)
                message = f"{objective} step {step + 1}/{steps_allowed}"
                keep_going = on_progress(fraction, message) if on_progress else True
                if keep_going is False or over_time:
                    stopped = True
                    break
        if objective == "CLM":
            steps_allowed = len(losses)
        model.eval()
        with torch.no_grad():
            heldout, _ = _loss(objective, model, eval_batch, torch.Generator().manual_seed(99))
        runs[objective] = ObjectiveRun(objective, type(model).__name__, sum(p.numel() for p in model.parameters()),
                                       tuple(losses), predicted / max(len(losses), 1), heldout.item(),
                                       time.perf_counter() - start)
    return ObjectiveComparison(cfg, runs["CLM"], runs["MLM"], math.log(VOCAB), stopped)


if __name__ == "__main__":
    sentence = "And God said, Let there be light: and there was light."
    for view in (clm_view(sentence), mlm_view(sentence, 0.3, seed=3)):
        print(f"{view.objective}: {view.n_predicted} positions predicted")
        for tok_, inp, tgt, act in zip(view.tokens, view.inputs, view.targets, view.actions):
            print(f"    {tok_!r:12s} reads {inp!r:12s} predicts {tgt!r:12s} {act}")
    cmp = compare_objectives(ObjectiveConfig(steps=100))
    print(f"ln V = {cmp.initial_loss:.3f}")
    for run in (cmp.clm, cmp.mlm):
        print(f"{run.objective} ({run.model_class}, {run.parameters:,} parameters): loss {run.losses[0]:.3f} -> "
              f"{run.losses[-1]:.3f} over {len(run.losses)} steps, {run.predicted_per_step:.0f} targets per batch, "
              f"held-out {run.heldout_loss:.3f}, {run.seconds:.1f} s")
