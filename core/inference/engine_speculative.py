"""Speculative decoding on our own engine: guess several tokens cheaply, let the target check them in one pass.

Why it can pay: one decode step of the target reads all its weights (12.6 MB for tiny-lm) and runs a fixed
number of small operations, whether it processes one new token or five. Where a matmul over five rows costs
little more than over one (a GPU, or a BLAS that reuses each weight for several rows), a pass over
[last token, d_1 .. d_k] costs about one step, and every draft token the target agrees with is a step saved.
(Measured on a 2-core AMD EPYC with MKL, a 5-token pass cost about 2.4 one-token passes: small-row matmuls
there read the weights once per row, so only the per-operation overhead is shared; bench/engine.py reports it.)
Each round:

  1. something cheap proposes d_1 .. d_k: a small draft model (k greedy steps of its own engine), or prompt
     lookup (Saxena 2023): find the last n tokens earlier in the text and propose what followed them there;
  2. the target runs ONE pass over [last token, d_1 .. d_k] (Engine.extend) and takes its own greedy token
     g_0 .. g_k at every position;
  3. accept the longest prefix with d_i == g_(i-1), then append the target's next token: the correction at the
     first miss, or a free bonus token when all k were accepted.

The text is exactly the target's own greedy output (tested); only the time changes. Going back after a miss is
free: the engine's cache is written in place, so the next round simply writes from an earlier position.
With acceptance rate alpha and a draft step costing c target steps, a round of k yields (1 - alpha^(k+1)) /
(1 - alpha) tokens for k c + 1 target-step costs (Leviathan et al. 2022, https://arxiv.org/abs/2211.17192);
prompt lookup costs c ~ 0 and wins when the text repeats itself (https://github.com/apoorvumang/prompt-lookup-decoding).
Shapes: input_ids (1, T); the target's logits over a round (1, k + 1, V).
"""
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.inference.engine import GREEDY, Engine, Sampling, warp_logits


@dataclass(frozen=True)
class SpecRun:
    new_ids: tuple[int, ...]  # the generated tokens (greedy: exactly the target's own greedy ones)
    proposed: tuple[int, ...]  # tokens proposed in each round
    accepted: tuple[int, ...]  # of which the target accepted
    seconds: float

    @property
    def acceptance(self) -> float:
        """Accepted proposals / proposed tokens (0 when nothing was proposed)."""
        return sum(self.accepted) / max(1, sum(self.proposed))

    @property
    def tokens_per_pass(self) -> float:
        """New tokens per target pass (1.0 for plain decoding)."""
        return len(self.new_ids) / max(1, len(self.proposed))


Proposal = tuple[list[int], torch.Tensor | None]  # guesses d_1 .. d_n, and the draft's probabilities q (n, V) or None


def greedy_check(logits: torch.Tensor, guesses: list[int], q: torch.Tensor | None) -> list[int]:
    """(k + 1, V) target logits after [last, d_1 .. d_k] -> the accepted guesses, then the target's own next token."""
    choice = logits.argmax(-1).tolist()  # the target's greedy token after each prefix
    accepted = 0
    while accepted < len(guesses) and guesses[accepted] == choice[accepted]:
        accepted += 1
    return guesses[:accepted] + [choice[accepted]]


def verify_loop(target: Engine, input_ids: torch.Tensor, new_tokens: int, propose: Callable[[list[int], int], Proposal],
                check: Callable = greedy_check, after_round: Callable[[int, int, int], None] | None = None,
                stop_at_eos: bool = False) -> SpecRun:
    """Decode new_tokens tokens; each round the target checks propose(ids, n) (at most n guesses) in one pass.

    check(logits (k + 1, V), guesses, q) -> the tokens to append: greedy_check, or the sampling rule
    (accept_or_resample). Invariant: the target's cache holds every token of ids but the last;
    after_round(n_before, proposed, accepted) lets a draft keep its own cache in step.
    """
    start = time.perf_counter()
    ids = input_ids[0].tolist()
    prompt_len = len(ids)
    target._check(1, prompt_len + new_tokens)  # the same bounds as generate, before any work
    if prompt_len > 1:
        target.extend(input_ids[:, :-1], 0)  # prefill all but the last prompt token
    proposed_counts, accepted_counts = [], []
    eos = set(target.eos_token_ids) if stop_at_eos else set()
    while len(ids) - prompt_len < new_tokens:
        n = len(ids)
        guesses, q = propose(ids, new_tokens - (n - prompt_len) - 1)  # leave room for the target's own token
        logits = target.extend(torch.tensor([[ids[-1]] + guesses]), n - 1)  # (1, len(guesses) + 1, V)
        ids += check(logits[0], guesses, q)
        proposed_counts.append(len(guesses))
        accepted_counts.append(len(ids) - n - 1)
        if after_round is not None:
            after_round(n, len(guesses), accepted_counts[-1])
        if eos & set(ids[n:]):
            ids = ids[: next(i for i in range(n, len(ids)) if ids[i] in eos) + 1]
            break
    return SpecRun(tuple(ids[prompt_len:]), tuple(proposed_counts), tuple(accepted_counts), time.perf_counter() - start)


def draft_proposer(draft: Engine, k: int, sampling: Sampling = GREEDY, generator: torch.Generator | None = None):
    """(propose, after_round) for verify_loop: the draft engine guesses up to k tokens, greedily or by sampling.

    The draft's cache is kept in step: it is fed what it has not seen, and after a round keeps the guesses
    that were accepted (and fed).
    """
    seen = [0]  # positions of ids that the draft's cache holds

    def pick(logits: torch.Tensor, probs: list) -> int:  # (1, V) draft logits -> one token
        if not sampling.do_sample:
            return int(logits.argmax())
        probs.append(F.softmax(warp_logits(logits, sampling), dim=-1)[0])  # (V,)
        return int(torch.multinomial(probs[-1], 1, generator=generator))

    def propose(ids: list[int], n: int) -> Proposal:
        n, probs = min(n, k), []
        if n == 0:
            return [], None
        feed = ids[seen[0]:]  # what the draft has not seen yet (at least the last token)
        guesses = [pick(draft.extend(torch.tensor([feed]), seen[0])[0, -1:], probs)]
        for pos in range(len(ids), len(ids) + n - 1):
            guesses.append(pick(draft.extend(torch.tensor([guesses[-1:]]), pos)[0, -1:], probs))
        return guesses, torch.stack(probs) if probs else None  # q: (n, V) when sampling

    def after_round(n_before: int, proposed: int, accepted: int) -> None:
        if proposed:  # the draft fed ids and its first proposed - 1 guesses; those accepted stay valid
            seen[0] = n_before + min(accepted, proposed - 1)

    return propose, after_round


def speculative_greedy(target: Engine, draft: Engine, input_ids: torch.Tensor, new_tokens: int, k: int = 4,
                       stop_at_eos: bool = False) -> SpecRun:
    """Draft-model speculative decoding, both models on our engine: the draft guesses k tokens per round.

    Usage: speculative_greedy(Engine(target), Engine(draft), tok("And God said", return_tensors="pt").input_ids, 64)
    """
    if draft.cfg.vocab_size != target.cfg.vocab_size:
        raise ValueError("draft and target must share a vocabulary")
    propose, after_round = draft_proposer(draft, k)
    return verify_loop(target, input_ids, new_tokens, propose, greedy_check, after_round, stop_at_eos)


def accept_or_resample(p: torch.Tensor, q: torch.Tensor, guesses: list[int], generator: torch.Generator | None) -> list[int]:
    """The sampling form of verification (Leviathan et al. 2022, Algorithm 1; Chen et al. 2023).

    p (k + 1, V): the target's probabilities after [last, d_1 .. d_k]; q (k, V): the draft's, from which each d_i
    was drawn. Accept d_i with probability min(1, p_i(d_i) / q_i(d_i)); at the first rejection draw from the
    residual max(0, p_i - q_i) (normalised) and stop; if all are accepted, draw a bonus token from p_k.
    Each emitted token is then distributed exactly as the target's own sampling would draw it.
    """
    out = []
    for i, d in enumerate(guesses):
        if torch.rand((), generator=generator) * q[i, d] < p[i, d]:  # u < p/q, without dividing by a tiny q
            out.append(d)
            continue
        residual = (p[i] - q[i]).clamp(min=0)  # (V,) where the target wants more than the draft gave
        dist = residual if residual.sum() > 0 else p[i]  # p == q up to rounding: nothing left over, use p
        out.append(int(torch.multinomial(dist, 1, generator=generator)))
        return out
    out.append(int(torch.multinomial(p[len(guesses)], 1, generator=generator)))
    return out


def speculative_sample(target: Engine, draft: Engine, input_ids: torch.Tensor, new_tokens: int, k: int = 4,
                       sampling: Sampling = Sampling(do_sample=True), seed: int = 0, stop_at_eos: bool = False) -> SpecRun:
    """Speculative sampling: the draft samples k guesses, the target accepts or resamples (accept_or_resample).

    The text follows the target's own sampling distribution (with the same temperature / top-k / top-p), not
    token for token the same draws as the target alone: the random numbers are used differently.
    """
    if not sampling.do_sample:
        raise ValueError("speculative_sample samples; use speculative_greedy for greedy decoding")
    generator = torch.Generator().manual_seed(seed)
    propose, after_round = draft_proposer(draft, k, sampling, generator)

    def check(logits: torch.Tensor, guesses: list[int], q: torch.Tensor | None) -> list[int]:
        p = F.softmax(warp_logits(logits, sampling), dim=-1)  # (k + 1, V): the same warping as the draft's
        return accept_or_resample(p, q, guesses, generator)

    return verify_loop(target, input_ids, new_tokens, propose, check, after_round, stop_at_eos)


def prompt_lookup(ids: list[int], n: int, max_ngram: int = 3) -> list[int]:
    """Up to n tokens that followed the latest earlier occurrence of the text's last max_ngram .. 1 tokens.

    prompt_lookup([5, 6, 7, 8, 5, 6], 2) -> [7, 8]: "5 6" occurred before, followed by 7, 8.
    """
    for size in range(min(max_ngram, len(ids) - 1), 0, -1):
        tail = ids[-size:]
        for start in range(len(ids) - size - 1, -1, -1):  # latest match first, never the tail itself
            if ids[start:start + size] == tail:
                return ids[start + size:start + size + n]
    return []


def prompt_lookup_greedy(target: Engine, input_ids: torch.Tensor, new_tokens: int, k: int = 4, max_ngram: int = 3,
                         stop_at_eos: bool = False) -> SpecRun:
    """Draft-free speculative decoding: the guesses come from the text itself (prompt_lookup), so they cost ~nothing.

    Usage: prompt_lookup_greedy(Engine(target), tok("And God said", return_tensors="pt").input_ids, 64)
    """
    return verify_loop(target, input_ids, new_tokens, lambda ids, n: (prompt_lookup(ids, min(n, k), max_ngram), None),
                       stop_at_eos=stop_at_eos)


def plain_greedy(target: Engine, input_ids: torch.Tensor, new_tokens: int) -> SpecRun:
    """The reference: the target's own greedy decoding on the engine, one pass per token."""
    start = time.perf_counter()
    out = target.generate(input_ids, new_tokens, stop_at_eos=False)
    n = out.size(1) - input_ids.size(1)
    return SpecRun(tuple(out[0, input_ids.size(1):].tolist()), (0,) * n, (0,) * n, time.perf_counter() - start)


if __name__ == "__main__":
    from core.models import load_causal_lm

    target, tokenizer = load_causal_lm("tiny-lm")
    engine, draft = Engine(target), Engine(load_causal_lm("tiny-lm-draft")[0])
    ids = tokenizer("And the LORD spake unto Moses, saying,", return_tensors="pt").input_ids
    plain = plain_greedy(engine, ids, 128)
    for name, run in (("draft k=2", speculative_greedy(engine, draft, ids, 128, k=2)),
                      ("prompt lookup k=8", prompt_lookup_greedy(engine, ids, 128, k=8))):
        print(f"{name:18s} same text: {run.new_ids == plain.new_ids}, acceptance {run.acceptance:.0%}, "
              f"{run.tokens_per_pass:.2f} tokens per target pass, {plain.seconds / run.seconds:.2f}x plain")
