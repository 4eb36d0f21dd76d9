"""Speculative decoding: a small draft model guesses k tokens, the big target model checks them in one pass.

Decoding one token is memory- and overhead-bound: a forward pass over k+1 tokens costs the target
about as much as a pass over one (its weights are read once either way), and a draft pass costs
roughly (draft size / target size) of a target pass. So each round:

  1. the draft proposes d_1..d_k greedily (k cheap passes of the draft);
  2. the target runs ONE pass over [last token, d_1..d_k] and gives its own greedy token g_1..g_{k+1}
     at every position;
  3. we accept the longest prefix with d_i == g_i (a tokens), then append g_{a+1}: the target's
     correction, or a free bonus token when all k were accepted.

Every round yields between 1 and k+1 tokens for one target pass, and the text is exactly the
target's own greedy output: the draft only changes how fast it comes. With sampling, Leviathan et
al. 2023 (https://arxiv.org/abs/2211.17192) and Chen et al. 2023 (https://arxiv.org/abs/2302.01318)
accept d_i with probability min(1, p(d_i)/q(d_i)) and resample on rejection; under greedy decoding
that rule becomes "accept while d_i equals the target's argmax", the rule used here.

If each draft token is accepted with probability α, a round yields (1 − α^{k+1}) / (1 − α) tokens
on average, and with c = (draft pass time) / (target pass time) the expected speedup is
(1 − α^{k+1}) / ((1 − α)(k·c + 1))   (Leviathan et al., eq. 1 and Theorem 3.8).
Shapes: input_ids (1, T); logits (1, T, V).

Work budget: the live demo (`speculate`) generates at most MAX_NEW_TOKENS tokens with k <= MAX_K, its
prompt cut to fit the models' positions; the timing sweep over k (`plan_sweep`, `speedup_sweep`) is
sized in decoded tokens, runs one k at a time, and stops starting new ones after SWEEP_MAX_SECONDS.
"""
import copy
import statistics
import time
from dataclasses import dataclass

import torch

MAX_NEW_TOKENS, MAX_K = 128, 8  # the page's slider maxima, enforced here too: a link or a caller may ask for more
# One sweep decodes len(ks) × (reps + 1 warm-up) × 4 ways × new_tokens tokens: 6 · 3 · 4 · 64 = 4,608 on the
# page, ~30 s of tiny-lm on 2 CPU cores (the four ways do not cost the same per token; this is a budget, not a clock).
SWEEP_MAX_TOKENS = 4_608
SWEEP_MAX_SECONDS = 50.0  # of work: no new k starts after it (each k takes a few seconds), so a sweep stays under ~60 s


@dataclass(frozen=True)
class SpecRound:
    proposed: tuple[int, ...]  # the draft's k tokens
    accepted: int  # how many of them matched the target's own choice
    target_token: int  # the target's token after the accepted prefix: a correction, or a bonus if all matched
    proposed_text: tuple[str, ...]
    target_text: str


@dataclass(frozen=True)
class SpecResult:
    prompt_ids: tuple[int, ...]
    new_ids: tuple[int, ...]
    text: str
    rounds: tuple[SpecRound, ...]
    k: int
    seconds: float

    @property
    def target_passes(self) -> int:
        return len(self.rounds)

    @property
    def draft_passes(self) -> int:
        return sum(len(r.proposed) for r in self.rounds)

    @property
    def acceptance(self) -> float:
        """Accepted draft tokens / proposed draft tokens."""
        return sum(r.accepted for r in self.rounds) / max(1, self.draft_passes)

    @property
    def tokens_per_pass(self) -> float:
        """New tokens per target forward pass (1.0 for plain decoding)."""
        return len(self.new_ids) / max(1, self.target_passes)


def trim_cache(cache, length: int) -> None:
    """Cut a transformers cache back to its first `length` positions (no-op if it is not longer)."""
    extra = 0 if cache is None else cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)  # transformers 5: a negative count of tokens to drop from the end


@torch.no_grad()
def speculative_generate(target, draft, tokenizer, input_ids: torch.Tensor, new_tokens: int, k: int,
                         stop_at_eos: bool = True) -> SpecResult:
    """Greedy speculative decoding with both models' KV caches, every round recorded.

    Usage: speculative_generate(target, draft, tok, tok("And God said", return_tensors="pt").input_ids, 64, k=4)
    Invariant: each model's cache holds every token of `ids` but the last, so a round feeds the
    models only what they have not seen; rejected tokens are cropped from both caches.
    """
    start = time.perf_counter()
    ids = input_ids[0].tolist()
    prompt_len = len(ids)
    target_cache = draft_cache = None
    rounds = []
    while len(ids) - prompt_len < new_tokens:
        n = len(ids)
        k_round = min(k, new_tokens - (n - prompt_len) - 1)  # never draft past the token budget
        # 1. The draft proposes k_round tokens, one cheap pass each.
        proposed, seen = [], 0 if draft_cache is None else draft_cache.get_seq_length()
        feed = torch.tensor([ids[seen:]])  # (1, unseen)
        for _ in range(k_round):
            out = draft(input_ids=feed, cache=draft_cache, use_cache=True, logits_to_keep=1)
            draft_cache = out.cache
            proposed.append(int(out.logits[0, -1].argmax()))
            feed = torch.tensor([proposed[-1:]])  # (1, 1)
        # 2. The target checks them all in one pass: its greedy token after the last token and each draft.
        seen = 0 if target_cache is None else target_cache.get_seq_length()
        out = target(input_ids=torch.tensor([ids[seen:] + proposed]), cache=target_cache, use_cache=True,
                     logits_to_keep=k_round + 1)
        target_cache = out.cache
        target_choice = out.logits[0].argmax(-1).tolist()  # (k_round + 1,)
        # 3. Accept the longest agreeing prefix, then take the target's own next token.
        accepted = 0
        while accepted < k_round and proposed[accepted] == target_choice[accepted]:
            accepted += 1
        correction = target_choice[accepted]  # the target's fix for the first miss, or a bonus if none
        ids += proposed[:accepted] + [correction]
        # Keys and values of rejected drafts are wrong history: cut both caches back to len(ids) - 1.
        trim_cache(target_cache, n + accepted)
        trim_cache(draft_cache, n + accepted)
        rounds.append(SpecRound(tuple(proposed), accepted, correction, tuple(tokenizer.decode([t]) for t in proposed),
                                tokenizer.decode([correction])))
        if stop_at_eos and tokenizer.eos_token_id in ids[n:]:
            ids = ids[: ids.index(tokenizer.eos_token_id, n) + 1]
            break
    new_ids = ids[prompt_len:]
    return SpecResult(tuple(ids[:prompt_len]), tuple(new_ids), tokenizer.decode(new_ids, skip_special_tokens=True),
                      tuple(rounds), k, time.perf_counter() - start)


@torch.no_grad()
def target_greedy(target, tokenizer, input_ids: torch.Tensor, new_tokens: int,
                  stop_at_eos: bool = True) -> tuple[int, ...]:
    """The target's own greedy tokens, one pass per token with its KV cache: the reference output.

    Usage: target_greedy(target, tok, tok("And God said", return_tensors="pt").input_ids, 64)
    """
    ids, cache, feed = input_ids[0].tolist(), None, input_ids
    for _ in range(new_tokens):
        out = target(input_ids=feed, cache=cache, use_cache=True, logits_to_keep=1)
        cache = out.cache
        ids.append(int(out.logits[0, -1].argmax()))
        feed = torch.tensor([ids[-1:]])
        if stop_at_eos and ids[-1] == tokenizer.eos_token_id:
            break
    return tuple(ids[input_ids.size(1):])


@dataclass(frozen=True)
class SpecDemo:
    result: SpecResult
    reference: tuple[int, ...]  # the target's own greedy tokens: what result.new_ids must equal
    notes: tuple[str, ...]  # what the work budget cut, empty when nothing was


def fit_budget(k: int, new_tokens: int, prompt_len: int, positions: int) -> tuple[int, int, int, tuple[str, ...]]:
    """(k, new tokens, prompt tokens to keep, what was cut) within the budget and the models' positions.

    fit_budget(20, 500, 450, 512) -> (8, 128, 384, three notes).
    """
    notes = []
    fitted_k, fitted_new = max(1, min(k, MAX_K)), max(1, min(new_tokens, MAX_NEW_TOKENS))
    if fitted_k != k:
        notes.append(f"k = {k} asked; at most {MAX_K} tokens are drafted per round")
    if fitted_new != new_tokens:
        notes.append(f"{new_tokens} new tokens asked; at most {MAX_NEW_TOKENS} are generated")
    keep = min(prompt_len, positions - fitted_new)
    if keep < prompt_len:
        notes.append(f"the prompt is {prompt_len} tokens; its first {keep} are used, so that prompt + "
                     f"{fitted_new} new tokens fit the models' {positions} positions")
    return fitted_k, fitted_new, keep, tuple(notes)


def speculate(target, draft, tokenizer, prompt: str, k: int, new_tokens: int) -> SpecDemo:
    """The page's demo: speculative decoding of `prompt` within the work budget, and the target's own greedy
    output to check it against. Past a verse's end-of-text the models go on with the next verse, as in
    their training stream (stop_at_eos=False).

    Usage: speculate(target, draft, tok, "And God said", k=4, new_tokens=48).result.acceptance
    """
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids  # (1, T)
    positions = min(target.config.max_position_embeddings, draft.config.max_position_embeddings)
    k, new_tokens, keep, notes = fit_budget(k, new_tokens, input_ids.size(1), positions)
    input_ids = input_ids[:, :keep]  # (1, T') with T' + new tokens <= positions
    return SpecDemo(speculative_generate(target, draft, tokenizer, input_ids, new_tokens, k, stop_at_eos=False),
                    target_greedy(target, tokenizer, input_ids, new_tokens, stop_at_eos=False), notes)


# ---- transformers' assisted generation: the same idea, used for the timing -------------------
def assistant_with_k(draft, k: int):
    """A view of `draft` that drafts exactly k tokens per round in transformers' assisted generation.

    transformers reads the draft length from the assistant's generation_config (default: 20 tokens,
    cut short when the draft's confidence drops below 0.4). A shallow copy shares the weights but gets
    its own config, so the cached model is never mutated.
    """
    assistant = copy.copy(draft)
    assistant.generation_config = copy.deepcopy(draft.generation_config)
    assistant.generation_config.num_assistant_tokens = k
    assistant.generation_config.num_assistant_tokens_schedule = "constant"
    assistant.generation_config.assistant_confidence_threshold = 0.0
    return assistant


@torch.no_grad()
def hf_generate(target, tokenizer, input_ids: torch.Tensor, new_tokens: int, draft=None, k: int = 4,
                ignore_eos: bool = True) -> tuple[int, ...]:
    """Greedy `target.generate`, with `draft` as assistant model when given (assisted generation).

    Usage: hf_generate(target, tok, ids, 128, draft=draft, k=4)
    ignore_eos=True forces exactly `new_tokens` tokens (min_new_tokens), as throughput benchmarks do.
    """
    kwargs = dict(do_sample=False, max_new_tokens=new_tokens, pad_token_id=tokenizer.pad_token_id,
                  attention_mask=torch.ones_like(input_ids))
    if ignore_eos:
        kwargs["min_new_tokens"] = new_tokens
    if draft is not None:
        kwargs["assistant_model"] = assistant_with_k(draft, k)
    return tuple(target.generate(input_ids, **kwargs)[0, input_ids.size(1):].tolist())


@dataclass(frozen=True)
class Speedup:
    k: int
    new_tokens: int
    target_seconds: float  # median of reps: target.generate alone
    assisted_seconds: float  # median of reps: target.generate(assistant_model=draft), transformers' loop
    greedy_seconds: float  # median of reps: our plain greedy loop (target_greedy)
    loop_seconds: float  # median of reps: our speculative loop (speculative_generate)
    acceptance: float  # accepted / proposed draft tokens (the same greedy rule in both loops)
    tokens_per_pass: float  # new tokens per target forward pass
    drafts_per_round: float  # mean draft passes per round (k, except near the token budget)
    draft_pass_ms: float  # one single-token draft forward pass after a cached prompt
    target_pass_ms: float  # one single-token target forward pass after a cached prompt
    same_output: bool  # assisted == target alone, and our loop == our greedy loop
    reps: int

    @property
    def speedup(self) -> float:
        """transformers: target.generate alone / with the draft as assistant."""
        return self.target_seconds / self.assisted_seconds

    @property
    def loop_speedup(self) -> float:
        """Ours: plain greedy loop / speculative loop (the same code style, so the same per-pass overheads)."""
        return self.greedy_seconds / self.loop_seconds

    @property
    def cost_ratio(self) -> float:
        """c = draft pass / target pass."""
        return self.draft_pass_ms / self.target_pass_ms

    @property
    def predicted_speedup(self) -> float:
        """The forward passes' cost model: tokens per target pass / (1 + draft passes per round · c)."""
        return self.tokens_per_pass / (1 + self.drafts_per_round * self.cost_ratio)


def expected_speedup(alpha: float, k: int, c: float) -> float:
    """(1 − α^{k+1}) / ((1 − α)(k·c + 1)): expected_speedup(0.8, 4, 0.1) -> 2.40."""
    tokens_per_round = k + 1 if alpha >= 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
    return tokens_per_round / (k * c + 1)


@torch.no_grad()
def pass_ms(model, input_ids: torch.Tensor, reps: int = 20) -> float:
    """Median milliseconds of one single-token forward pass after a cached prompt."""
    cache = model(input_ids=input_ids, use_cache=True).cache
    last, times = input_ids[:, -1:], []
    for _ in range(reps):
        start = time.perf_counter()
        model(input_ids=last, cache=cache, use_cache=True, logits_to_keep=1)
        times.append(time.perf_counter() - start)
        trim_cache(cache, input_ids.size(1))  # forget the extra token: every rep sees the same cache
    return 1000 * statistics.median(times)


def speculative_speedup(target, draft, tokenizer, prompt: str, new_tokens: int = 128, k: int = 4,
                        reps: int = 3) -> Speedup:
    """Time greedy decoding of exactly `new_tokens` tokens four ways: transformers' generate alone and with
    the draft as assistant, our plain greedy loop and our speculative loop; outputs checked identical.

    Usage: s = speculative_speedup(target, draft, tok, "And the LORD spake unto Moses", 128, k=4); s.speedup
    The prompt is cut so that prompt + new tokens + k drafted tokens fit the target's positions.
    """
    positions = target.config.max_position_embeddings
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids[:, : max(1, positions - new_tokens - k)]

    def timed(fn):
        start = time.perf_counter()
        return fn(), time.perf_counter() - start

    runs = {
        "target": lambda: hf_generate(target, tokenizer, input_ids, new_tokens),
        "assisted": lambda: hf_generate(target, tokenizer, input_ids, new_tokens, draft, k),
        "greedy": lambda: target_greedy(target, tokenizer, input_ids, new_tokens, stop_at_eos=False),
        "loop": lambda: speculative_generate(target, draft, tokenizer, input_ids, new_tokens, k, stop_at_eos=False),
    }
    for run in runs.values():  # warm-up
        run()
    seconds, outputs = {name: [] for name in runs}, {}
    for _ in range(reps):  # interleaved, so background load hits all four alike
        for name, run in runs.items():
            outputs[name], elapsed = timed(run)
            seconds[name].append(elapsed)
    ours = outputs["loop"]
    same = outputs["assisted"] == outputs["target"] and ours.new_ids == outputs["greedy"]
    median = {name: statistics.median(times) for name, times in seconds.items()}
    return Speedup(k, new_tokens, median["target"], median["assisted"], median["greedy"], median["loop"],
                   ours.acceptance, ours.tokens_per_pass, ours.draft_passes / ours.target_passes,
                   pass_ms(draft, input_ids), pass_ms(target, input_ids), same, reps)


@dataclass(frozen=True)
class SweepPlan:
    ks: tuple[int, ...]
    new_tokens: int
    reps: int
    asked: tuple[tuple[int, ...], int, int]  # (ks, new_tokens, reps) as asked
    max_tokens: int

    @property
    def decoded_tokens(self) -> int:
        """Tokens decoded in all: each k times (reps + 1 warm-up) times 4 ways, new_tokens each."""
        return len(self.ks) * (self.reps + 1) * 4 * self.new_tokens

    @property
    def cut(self) -> bool:
        return (self.ks, self.new_tokens, self.reps) != self.asked


def plan_sweep(ks, new_tokens: int, reps: int, max_tokens: int = SWEEP_MAX_TOKENS) -> SweepPlan:
    """The asked sweep, cut to the budget: fewer repetitions first (down to 1), then fewer new tokens (down
    to 16), then the largest values of k dropped, until the decoded tokens fit.

    plan_sweep((1, 2, 3, 4, 5, 6), 96, 2, 4_608) -> reps 1, 96 tokens (6 · 2 · 4 · 96 = 4,608 tokens).
    """
    ks = tuple(ks)

    def cost(n_ks: int, n: int, r: int) -> int:
        return n_ks * (r + 1) * 4 * n

    r = reps
    while r > 1 and cost(len(ks), new_tokens, r) > max_tokens:
        r -= 1
    n = max(min(new_tokens, 16), min(new_tokens, max_tokens // cost(len(ks), 1, r)))
    n_ks = max(1, min(len(ks), max_tokens // cost(1, n, r)))
    return SweepPlan(ks[:n_ks], n, r, (ks, new_tokens, reps), max_tokens)


@dataclass(frozen=True)
class Sweep:
    speedups: tuple[Speedup, ...]  # one per k measured, in the plan's order
    planned: int  # values of k in the plan
    work_seconds: float  # time spent computing, not waiting for the CPU between values of k

    @property
    def stopped_early(self) -> bool:
        return len(self.speedups) < self.planned


def speedup_sweep(target, draft, tokenizer, prompt: str, plan: SweepPlan, max_seconds: float = SWEEP_MAX_SECONDS):
    """speculative_speedup for each k of the plan, one k at a time.

    A generator: it yields (fraction done, what was just done) after each k, so a caller can show
    progress, let others use the CPU in between, or stop; it returns a Sweep. No new k starts once the
    work so far has taken max_seconds (the first always runs).
    """
    speedups, worked = [], 0.0
    for i, k in enumerate(plan.ks):
        if speedups and worked >= max_seconds:
            break
        start = time.perf_counter()
        speedups.append(speculative_speedup(target, draft, tokenizer, prompt, plan.new_tokens, k, plan.reps))
        worked += time.perf_counter() - start
        yield (i + 1) / len(plan.ks), f"k = {k} measured ({i + 1} of {len(plan.ks)})"
    return Sweep(tuple(speedups), len(plan.ks), worked)


def acceptance(target, draft, tokenizer, prompt: str, new_tokens: int = 128, k: int = 4) -> float:
    """Fraction of drafted tokens the target accepts under greedy verification (the bench's speculative_acceptance).

    Usage: acceptance(target, draft, tok, "And the LORD spake unto Moses", 128, k=4)
    """
    input_ids = tokenizer(prompt, return_tensors="pt").input_ids
    return speculative_generate(target, draft, tokenizer, input_ids, new_tokens, k, stop_at_eos=False).acceptance


if __name__ == "__main__":
    from core.models import load_causal_lm

    target, tok = load_causal_lm("tiny-lm")
    draft, _ = load_causal_lm("tiny-lm-draft")
    prompt = "And the LORD spake unto Moses, saying,"
    ids = tok(prompt, return_tensors="pt").input_ids
    result = speculative_generate(target, draft, tok, ids, 32, k=4)
    for r in result.rounds[:6]:
        print(f"proposed {list(r.proposed_text)} accepted {r.accepted} then target {r.target_text!r}")
    print(f"same as target greedy: {result.new_ids == target_greedy(target, tok, ids, 32)}")
    for k in range(1, 7):
        s = speculative_speedup(target, draft, tok, prompt, 128, k=k, reps=2)
        print(f"k={k}: acceptance {s.acceptance:.2f}, {s.tokens_per_pass:.2f} tokens/pass, speedup: assisted "
              f"{s.speedup:.2f}x, our loop {s.loop_speedup:.2f}x, cost model {s.predicted_speedup:.2f}x "
              f"(c = {s.cost_ratio:.2f}), identical {s.same_output}")
