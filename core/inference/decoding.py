"""Decoding: how a language model's next-token scores become text, one token at a time.

At every step the model returns logits (V,) for the next token. A decoding strategy turns them
into one token id:

  greedy       argmax(logits)                                   deterministic, often repetitive
  temperature  sample from softmax(logits / T)                  T < 1 sharpens, T > 1 flattens
  top-k        keep the k largest logits, then sample           Fan et al. 2018, https://arxiv.org/abs/1805.04833
  top-p        keep the smallest set of tokens whose total      Holtzman et al. 2019 ("nucleus"),
               probability reaches p, then sample               https://arxiv.org/abs/1904.09751
  beam search  keep the B most probable *sequences*, not tokens

and CTRL's repetition penalty (Keskar et al. 2019, https://arxiv.org/abs/1909.05858) makes tokens
already in the text less likely: their positive logits are divided by the penalty, their negative
logits multiplied by it.

Every filter here is written from scratch (teaching code) and tested against transformers' own
logits processors; greedy and beam search are tested token for token against `model.generate`.
Shapes: logits (V,) or (B, V); ids (T,) or (B, T); V = vocabulary size.

Work budget: a generation runs at most MAX_NEW_TOKENS steps of at most MAX_BEAMS rows, and its prompt is
cut so that prompt + new tokens fit the model's positions (`fit_budget`, applied by `generate`).
"""
from dataclasses import dataclass, replace

import torch

from core.inference.engine import engine_for

STRATEGIES = ("greedy", "temperature", "top-k", "top-p", "beam")
NEG_INF = float("-inf")
MAX_NEW_TOKENS = 128  # the page's slider maximum, enforced here too: a link or a caller may ask for more
MAX_BEAMS = 6


# ---- the filters: logits in, logits out ------------------------------------------------------
def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by T: apply_temperature(tensor([2., 0.]), 2.0) -> tensor([1., 0.])."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits (and ties with the k-th), set the rest to -inf.

    top_k_filter(tensor([1., 3., 2.]), 2) -> tensor([-inf, 3., 2.])
    """
    k = max(1, min(int(k), logits.size(-1)))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, NEG_INF)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the most probable tokens until their total probability reaches p.

    top_p_filter(tensor([.5, .3, .2]).log(), 0.7) keeps tokens 0 and 1 (0.5 < 0.7 <= 0.5 + 0.3).
    """
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)  # (..., V)
    sorted_probs = sorted_logits.softmax(dim=-1)
    # The probability mass ranked strictly above each token: once it reaches p, the token is not needed.
    mass_above = sorted_probs.cumsum(dim=-1) - sorted_probs  # (..., V)
    remove_sorted = mass_above >= p  # the top token has mass_above = 0, so it always stays
    remove = torch.zeros_like(remove_sorted).scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, NEG_INF)


def repetition_penalty(logits: torch.Tensor, previous_ids: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL's penalty on every token already in the text: logit / penalty if > 0, logit * penalty if < 0.

    repetition_penalty(tensor([2., -2., 1.]), tensor([0, 1]), 2.0) -> tensor([1., -4., 1.])
    """
    if penalty == 1.0 or previous_ids.numel() == 0:
        return logits
    seen = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, previous_ids, True)  # (..., V)
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


# ---- one strategy = one chain of filters -----------------------------------------------------
@dataclass(frozen=True)
class DecodeConfig:
    strategy: str = "greedy"  # one of STRATEGIES
    temperature: float = 1.0  # temperature, top-k, top-p
    top_k: int = 50  # top-k
    top_p: float = 0.9  # top-p
    num_beams: int = 3  # beam
    repetition_penalty: float = 1.0  # every strategy; 1.0 = off
    max_new_tokens: int = 24
    seed: int = 0  # sampling strategies
    show_top: int = 8  # candidates recorded per step
    stop_at_eos: bool = True


def fit_budget(cfg: DecodeConfig, prompt_len: int, positions: int) -> tuple[DecodeConfig, int, tuple[str, ...]]:
    """(cfg within the work budget, prompt tokens to keep, what was cut and why).

    fit_budget(DecodeConfig("beam", num_beams=10, max_new_tokens=500), 450, 512)
    -> (6 beams, 128 new tokens), keep the first 384 prompt tokens, and three notes.
    """
    notes = []
    new_tokens = max(1, min(cfg.max_new_tokens, MAX_NEW_TOKENS))
    if new_tokens != cfg.max_new_tokens:
        notes.append(f"{cfg.max_new_tokens} new tokens asked; at most {MAX_NEW_TOKENS} are generated")
    beams = max(1, min(cfg.num_beams, MAX_BEAMS))
    if cfg.strategy == "beam" and beams != cfg.num_beams:
        notes.append(f"{cfg.num_beams} beams asked; at most {MAX_BEAMS} are kept")
    keep = min(prompt_len, positions - new_tokens)
    if keep < prompt_len:
        notes.append(f"the prompt is {prompt_len} tokens; its first {keep} are used, so that prompt + "
                     f"{new_tokens} new tokens fit the model's {positions} positions")
    return replace(cfg, max_new_tokens=new_tokens, num_beams=beams), keep, tuple(notes)


def process_logits(logits: torch.Tensor, previous_ids: torch.Tensor, cfg: DecodeConfig) -> torch.Tensor:
    """The strategy's filters in transformers' order: penalty, temperature, top-k, top-p. (V,) -> (V,)."""
    logits = repetition_penalty(logits, previous_ids, cfg.repetition_penalty)
    if cfg.strategy in ("temperature", "top-k", "top-p"):
        logits = apply_temperature(logits, cfg.temperature)
    if cfg.strategy == "top-k":
        logits = top_k_filter(logits, cfg.top_k)
    if cfg.strategy == "top-p":
        logits = top_p_filter(logits, cfg.top_p)
    return logits


@dataclass(frozen=True)
class Candidate:
    token_id: int
    token: str
    prob: float  # the model's own probability, softmax(raw logits)
    final_prob: float  # after the strategy's filters: what the token was actually drawn from


@dataclass(frozen=True)
class Step:
    position: int  # index of the generated token in the whole sequence
    candidates: tuple[Candidate, ...]  # the most probable tokens (plus the chosen one if it was not among them)
    chosen_id: int
    chosen: str
    chosen_rank: int  # 1 = the model's most probable token
    kept: int  # how many tokens survived the filters (could have been drawn)


@dataclass(frozen=True)
class BeamStep:
    step: int
    beams: tuple[tuple[str, float], ...]  # (text generated so far, total log-probability), best first
    finished: int  # hypotheses finished so far (ended with end-of-text, or out of token budget)


@dataclass(frozen=True)
class Generation:
    prompt_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    text: str  # the generated continuation only
    steps: tuple[Step, ...] = ()  # greedy / sampling
    beam_steps: tuple[BeamStep, ...] = ()  # beam search: the live beams after each step
    finished: tuple[tuple[str, float, float], ...] = ()  # beam search: (text, log-prob, log-prob / length), best first
    notes: tuple[str, ...] = ()  # what the work budget cut (fit_budget), empty when nothing was


def _candidates(logits, final_logits, chosen_id, tokenizer, show_top) -> tuple[Candidate, ...]:
    probs, final_probs = logits.softmax(-1), final_logits.softmax(-1)  # (V,), (V,)
    top_ids = torch.topk(probs, min(show_top, probs.numel())).indices.tolist()
    if chosen_id not in top_ids:
        top_ids.append(chosen_id)
    return tuple(Candidate(i, tokenizer.decode([i]), float(probs[i]), float(final_probs[i])) for i in top_ids)


@torch.no_grad()
def sample_tokens(model, tokenizer, input_ids: torch.Tensor, cfg: DecodeConfig) -> Generation:
    """Greedy or sampled generation, one forward pass per token with the KV cache, every step recorded.

    The forward passes run on our engine (core.inference.engine: fused weights, a preallocated cache) when it
    implements the model, else on the model itself; the tests hold both equal to `model.generate`.

    Usage: sample_tokens(model, tok, tok("And God said", return_tensors="pt").input_ids, DecodeConfig("top-p"))
    input_ids: (1, T) -> Generation with up to cfg.max_new_tokens new tokens.
    """
    generator = torch.Generator().manual_seed(cfg.seed)
    ids = input_ids[0].tolist()
    feed, cache, steps = input_ids, None, []
    engine = engine_for(model)  # our decode path (core.inference.engine) for the bundled Llamas: same logits
    for _ in range(cfg.max_new_tokens):
        if engine is not None:
            logits = engine.extend(feed, len(ids) - feed.size(1))[0, -1]  # (V,) scores for the next token
        else:
            out = model(input_ids=feed, cache=cache, use_cache=True, logits_to_keep=1)
            cache = out.cache
            logits = out.logits[0, -1].float()  # (V,) scores for the next token
        final_logits = process_logits(logits, torch.tensor(ids), cfg)  # (V,)
        if cfg.strategy == "greedy":
            next_id = int(final_logits.argmax())
        else:
            next_id = int(torch.multinomial(final_logits.softmax(-1), 1, generator=generator))
        rank = int((logits > logits[next_id]).sum()) + 1
        steps.append(Step(len(ids), _candidates(logits, final_logits, next_id, tokenizer, cfg.show_top), next_id,
                          tokenizer.decode([next_id]), rank, int(torch.isfinite(final_logits).sum())))
        ids.append(next_id)
        feed = torch.tensor([[next_id]])  # (1, 1): the cache already holds every earlier token
        if cfg.stop_at_eos and next_id == tokenizer.eos_token_id:
            break
    prompt_len = input_ids.size(1)
    return Generation(tuple(ids[:prompt_len]), tuple(ids[prompt_len:]),
                      tokenizer.decode(ids[prompt_len:], skip_special_tokens=True), steps=tuple(steps))


@torch.no_grad()
def beam_search(model, tokenizer, input_ids: torch.Tensor, cfg: DecodeConfig) -> Generation:
    """Beam search: keep the cfg.num_beams most probable sequences, scored by total log-probability.

    Usage: beam_search(model, tok, tok("In the beginning", return_tensors="pt").input_ids, DecodeConfig("beam"))
    Each step extends every beam by every token and ranks the B·V extensions (B = beams). Of the
    best 2·B, those ending in end-of-text and ranked in the top B become finished hypotheses, scored
    by log-probability / new tokens; the best B others go on. It stops when B hypotheses are finished
    or the token budget is spent (then the top B extensions finish) and returns the best finished one:
    transformers' `generate(num_beams=B, early_stopping=True)` rule (length_penalty=1).
    The repetition penalty is applied to the logits before the log-softmax.
    """
    B, eos = cfg.num_beams, tokenizer.eos_token_id
    prompt_len = input_ids.size(1)
    beams = input_ids.repeat(B, 1)  # (B, T)
    # Only the first copy is live at step 0, so the B starting beams are not all the same sequence.
    scores = torch.full((B,), -1e9)
    scores[0] = 0.0
    finished: list[tuple[float, float, list[int]]] = []  # (log-prob / new tokens, log-prob, ids)
    feed, cache, trace = beams, None, []
    for step in range(cfg.max_new_tokens):
        out = model(input_ids=feed, cache=cache, use_cache=True, logits_to_keep=1)
        logits = repetition_penalty(out.logits[:, -1].float(), beams, cfg.repetition_penalty)  # (B, V)
        total = scores[:, None] + logits.log_softmax(-1)  # (B, V) log-prob of each one-token extension
        V = total.size(1)
        top_scores, top_flat = total.view(-1).topk(2 * B)  # (2B,) best extensions over all beams
        out_of_budget = step == cfg.max_new_tokens - 1
        live, ended = [], []  # (beam, token, log-prob) going on; (score, log-prob, ids) finishing now
        for rank, (score, flat) in enumerate(zip(top_scores.tolist(), top_flat.tolist())):
            beam, token = divmod(flat, V)
            if token == eos or out_of_budget:
                if rank < B:
                    ended.append((score / (step + 1), score, beams[beam].tolist() + [token]))
            elif len(live) < B:
                live.append((beam, token, score))
        finished += ended
        if out_of_budget or len(finished) >= B:
            trace.append(BeamStep(step, tuple((tokenizer.decode(ids[prompt_len:]), s) for _, s, ids in ended),
                                  len(finished)))
            break
        beam_idx = torch.tensor([beam for beam, _, _ in live])  # (B,) the parent of each new beam
        beams = torch.cat([beams[beam_idx], torch.tensor([[token] for _, token, _ in live])], dim=1)  # (B, T + 1)
        scores = torch.tensor([score for _, _, score in live])  # (B,)
        cache = out.cache
        cache.reorder_cache(beam_idx)  # each surviving beam takes its parent's keys and values
        feed = beams[:, -1:]  # (B, 1)
        trace.append(BeamStep(step, tuple((tokenizer.decode(b[prompt_len:].tolist()), s)
                                          for b, s in zip(beams, scores.tolist())), len(finished)))
    finished.sort(key=lambda h: h[0], reverse=True)
    best = finished[0][2]
    return Generation(tuple(best[:prompt_len]), tuple(best[prompt_len:]),
                      tokenizer.decode(best[prompt_len:], skip_special_tokens=True), beam_steps=tuple(trace),
                      finished=tuple((tokenizer.decode(ids[prompt_len:]), total, norm)
                                     for norm, total, ids in finished))


def generate(model, tokenizer, prompt: str, cfg: DecodeConfig) -> Generation:
    """Decode a continuation of `prompt` with the strategy of cfg, every step recorded.

    Usage: generate(*load_causal_lm("tiny-lm"), "And God said", DecodeConfig("top-k", temperature=0.8, top_k=20))
    """
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; choose from {STRATEGIES}")
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids  # (1, T)
    cfg, keep, notes = fit_budget(cfg, input_ids.size(1), model.config.max_position_embeddings)
    input_ids = input_ids[:, :keep]  # (1, T') with T' + new tokens <= positions
    search = beam_search if cfg.strategy == "beam" else sample_tokens
    return replace(search(model, tokenizer, input_ids, cfg), notes=notes)


if __name__ == "__main__":
    from core.models import load_causal_lm

    model, tok = load_causal_lm("tiny-lm")
    prompt = "And God said"
    for strategy in STRATEGIES:
        cfg = DecodeConfig(strategy, temperature=0.8, top_k=20, top_p=0.9, max_new_tokens=20)
        gen = generate(model, tok, prompt, cfg)
        print(f"{strategy:12s} {prompt}{gen.text}")
    gen = generate(model, tok, prompt, DecodeConfig("top-p", temperature=0.8, max_new_tokens=4))
    for step in gen.steps:
        cands = ", ".join(f"{c.token!r} {c.prob:.2f}->{c.final_prob:.2f}" for c in step.candidates[:4])
        print(f"position {step.position}: chose {step.chosen!r} from {step.kept} tokens; top: {cands}")
