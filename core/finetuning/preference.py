"""Learning from preferences: a Bradley-Terry reward model, and DPO, which needs none.

Data: pairs (x, y_w, y_l) where people preferred the response y_w ("chosen") to y_l ("rejected")
(assets/finetune/preferences.jsonl). Two ways to use them:

1. RLHF (Ouyang et al. 2022, arXiv 2203.02155): fit a reward model r(x, y) so that
   P(y_w ≻ y_l) = σ(r(x, y_w) - r(x, y_l))  (Bradley & Terry 1952), i.e. minimise
       L_RM = -log σ(r(x, y_w) - r(x, y_l)),
   then optimise the policy with PPO against r with a KL penalty to the SFT model. Our reward
   model is a copy of the tiny LM's decoder with a scalar head on the last token's hidden state.
2. DPO (Rafailov et al. 2023, arXiv 2305.18290): the KL-penalised optimum has a closed form,
   so the policy itself defines the reward r(x, y) = β log π(y|x)/π_ref(y|x) (+ a term in x only),
   and the same Bradley-Terry loss becomes a loss on the policy:
       L_DPO = -log σ( β [ (log π(y_w|x) - log π_ref(y_w|x)) - (log π(y_l|x) - log π_ref(y_l|x)) ] )
   No reward model, no sampling, no PPO; π_ref is the frozen SFT model.
log π(y|x) is the sum of the response tokens' log-probabilities under the chat template of
core.finetuning.instruction (the end-of-text token included: stopping is part of the answer).
Shapes: B pairs in a batch, T tokens, C model dim, V vocab.
"""
import copy
import json
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.finetuning.instruction import answer, chat_tokenizer, encode_example, pad_examples, prompt_ids
from core.finetuning.loop import MAX_SECONDS, deadline_after, greedy_ids, train_bounded
from core.pretraining.data import ASSETS

PREFERENCES_PATH = ASSETS / "finetune" / "preferences.jsonl"
MAX_BATCH, MAX_BETA = 16, 5.0


@dataclass(frozen=True)
class PreferencePair:
    prompt: str
    chosen: str  # y_w
    rejected: str  # y_l
    kind: str  # how the rejected answer fails: wrong | ramble | runs on


def load_preferences(path=PREFERENCES_PATH) -> tuple[list, list]:
    """(train, heldout) lists of PreferencePair, by each row's "split"."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    split = {"train": [], "heldout": []}
    for r in rows:
        split[r["split"]].append(PreferencePair(r["prompt"], r["chosen"], r["rejected"], r["kind"]))
    return split["train"], split["heldout"]


def encode_responses(chat_tok, prompts, responses) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Conversations -> (input_ids, labels on the response only, attention_mask), each (N, T), right-padded."""
    pairs = [encode_example(chat_tok, p, r, mask_prompt=True) for p, r in zip(prompts, responses)]
    return pad_examples(pairs, chat_tok.pad_token_id)


def encode_preferences(chat_tok, pairs) -> dict:
    """{"chosen": (ids, labels, mask), "rejected": (ids, labels, mask)}, each tensor (N, T)."""
    prompts = [p.prompt for p in pairs]
    return {"chosen": encode_responses(chat_tok, prompts, [p.chosen for p in pairs]),
            "rejected": encode_responses(chat_tok, prompts, [p.rejected for p in pairs])}


def trim(batch, idx) -> tuple:
    """Rows idx of an (ids, labels, mask) triple, trimmed to their longest row."""
    ids, labels, mask = (t[idx] for t in batch)
    width = int(mask.sum(1).max())
    return ids[:, :width], labels[:, :width], mask[:, :width]


# ---- the two losses ------------------------------------------------------------------------------
def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """-log σ(r_w - r_l), averaged over the batch: (B,), (B,) -> scalar. Equal rewards cost log 2."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO on sequence log-probs, each (B,): (scalar loss, implicit rewards of y_w (B,), of y_l (B,)).

    The implicit reward of a response is β·(log π(y|x) - log π_ref(y|x)); the loss is the
    Bradley-Terry loss on those rewards. At the start π = π_ref, every reward is 0, the loss log 2.
    """
    chosen_rewards = beta * (policy_chosen - ref_chosen)  # (B,)
    rejected_rewards = beta * (policy_rejected - ref_rejected)  # (B,)
    return bradley_terry_loss(chosen_rewards, rejected_rewards), chosen_rewards, rejected_rewards


def sequence_logprobs(model, input_ids: torch.Tensor, labels: torch.Tensor,
                      attention_mask: torch.Tensor) -> torch.Tensor:
    """log π(y|x) = Σ over labelled tokens of log p(token | everything before it): (B, T) -> (B,)."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]  # (B, T-1, V)
    targets = labels[:, 1:]  # (B, T-1): the token each position predicts
    keep = targets != -100
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (logp * keep).sum(-1)  # (B,)


# ---- reward model -------------------------------------------------------------------------------
class RewardModel(nn.Module):
    """The LM's decoder stack (a copy) + a scalar head on the last real token: (B, T) -> (B,) rewards."""

    def __init__(self, lm, seed: int = 0):
        super().__init__()
        self.backbone = copy.deepcopy(lm.model)  # LlamaModel: embeddings, layers, final norm; no lm_head
        torch.manual_seed(seed)
        self.head = nn.Linear(lm.config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
        last = attention_mask.sum(1) - 1  # (B,): index of each row's last real token (right padding)
        return self.head(hidden[torch.arange(len(hidden)), last]).squeeze(-1)  # (B,)


@dataclass(frozen=True)
class RewardConfig:
    steps: int = 40  # clipped to loop.MAX_STEPS
    batch_size: int = 8
    lr: float = 3e-4
    seed: int = 0


@dataclass(frozen=True)
class RewardResult:
    config: RewardConfig
    losses: tuple  # Bradley-Terry loss per step
    accuracies: tuple  # share of the step's batch with r(y_w) > r(y_l)
    heldout_accuracy_before: float  # the random head's accuracy on held-out pairs (about chance)
    heldout_accuracy: float  # after training
    heldout_margins: tuple  # r(y_w) - r(y_l) per held-out pair, after training
    heldout_kinds: tuple  # the rejected answer's kind per held-out pair
    stopped_early: bool
    timed_out: bool = False  # training reached its deadline


@torch.no_grad()
def reward_margins(reward_model, data: dict) -> np.ndarray:
    """r(x, y_w) - r(x, y_l) for every pair: (N,)."""
    chosen_ids, _, chosen_mask = data["chosen"]
    rejected_ids, _, rejected_mask = data["rejected"]
    return (reward_model(chosen_ids, chosen_mask) - reward_model(rejected_ids, rejected_mask)).numpy()


def train_reward_model(lm, tokenizer, cfg: RewardConfig = RewardConfig(), on_progress=None,
                       deadline: float | None = None):
    """Fit a RewardModel (on a copy of `lm`) to the training pairs; returns (RewardResult, reward model).

    Training ends at `deadline` (time.perf_counter()) if it comes first."""
    chat_tok = chat_tokenizer(tokenizer)
    train, heldout = load_preferences()
    data, held = encode_preferences(chat_tok, train), encode_preferences(chat_tok, heldout)
    reward_model = RewardModel(lm, cfg.seed)
    before = float((reward_margins(reward_model.eval(), held) > 0).mean())
    batch_size, accuracies = int(np.clip(cfg.batch_size, 1, MAX_BATCH)), []

    def batch_loss(generator):
        idx = torch.randint(0, len(train), (batch_size,), generator=generator)  # (B,)
        chosen_ids, _, chosen_mask = trim(data["chosen"], idx)
        rejected_ids, _, rejected_mask = trim(data["rejected"], idx)
        r_chosen, r_rejected = reward_model(chosen_ids, chosen_mask), reward_model(rejected_ids, rejected_mask)
        accuracies.append((r_chosen > r_rejected).float().mean().item())
        return bradley_terry_loss(r_chosen, r_rejected)

    trace = train_bounded(reward_model, batch_loss, cfg.steps, cfg.lr, cfg.seed, on_progress, label="reward model",
                          deadline=deadline)
    margins = reward_margins(reward_model, held)
    return RewardResult(config=cfg, losses=trace.losses, accuracies=tuple(accuracies[: len(trace.losses)]),
                        heldout_accuracy_before=before, heldout_accuracy=float((margins > 0).mean()),
                        heldout_margins=tuple(float(m) for m in margins),
                        heldout_kinds=tuple(p.kind for p in heldout), stopped_early=trace.stopped_early,
                        timed_out=trace.timed_out), reward_model


# ---- DPO ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DPOConfig:
    beta: float = 0.1  # strength of the implicit KL leash: small β lets π move far from π_ref
    steps: int = 30  # clipped to loop.MAX_STEPS
    batch_size: int = 8
    lr: float = 1e-4
    seed: int = 0
    max_new_tokens: int = 12


@dataclass(frozen=True)
class DPOResult:
    config: DPOConfig
    losses: tuple  # per step
    margins: tuple  # mean (chosen reward - rejected reward) of the step's batch
    accuracies: tuple  # share of the batch whose chosen reward is higher
    chosen_rewards: tuple  # mean implicit reward of y_w per step ...
    rejected_rewards: tuple  # ... and of y_l
    heldout_accuracy: float  # held-out pairs with β·margin > 0 after training
    heldout_margin: float  # their mean margin
    heldout_prefers_chosen_before: float  # share of held-out pairs with log π(y_w|x) > log π(y_l|x), SFT model ...
    heldout_prefers_chosen_after: float  # ... and after DPO
    kl_to_ref: float  # mean per-token KL(π ‖ π_ref) over the policy's greedy answers to held-out prompts
    answers: tuple  # ((prompt, chosen, SFT answer, DPO answer), ...) on held-out prompts
    stopped_early: bool
    timed_out: bool = False  # training reached its deadline


@torch.no_grad()
def pair_logprobs(model, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(log π(y_w|x), log π(y_l|x)) for every pair: (N,), (N,)."""
    return sequence_logprobs(model, *data["chosen"]), sequence_logprobs(model, *data["rejected"])


@torch.no_grad()
def mean_token_kl(policy, reference, chat_tok, prompts, max_new_tokens: int = 12) -> float:
    """Σ_v π(v|·) (log π(v|·) - log π_ref(v|·)), averaged over the positions of π's greedy answers."""
    eos, kls = chat_tok.eos_token_id, []
    for prompt in prompts:
        start = prompt_ids(chat_tok, prompt)
        ids = torch.tensor([start + greedy_ids(policy, start, eos, max_new_tokens)])  # (1, T)
        positions = slice(len(start) - 1, ids.shape[1] - 1)  # the logits that chose each answer token
        logp = torch.log_softmax(policy(input_ids=ids).logits[0, positions], dim=-1)  # (A, V)
        logq = torch.log_softmax(reference(input_ids=ids).logits[0, positions], dim=-1)  # (A, V)
        kls += (logp.exp() * (logp - logq)).sum(-1).tolist()
    return float(np.mean(kls))


def dpo(sft_model, tokenizer, cfg: DPOConfig = DPOConfig(), on_progress=None, deadline: float | None = None):
    """DPO of a copy of `sft_model` against a frozen copy of it; returns (DPOResult, policy).

    Training ends at `deadline` (time.perf_counter()) if it comes first; the measurements always run."""
    chat_tok = chat_tokenizer(tokenizer)
    train, heldout = load_preferences()
    data, held = encode_preferences(chat_tok, train), encode_preferences(chat_tok, heldout)
    reference = copy.deepcopy(sft_model).eval()
    ref_chosen, ref_rejected = pair_logprobs(reference, data)  # π_ref never changes: computed once
    held_ref_chosen, held_ref_rejected = pair_logprobs(reference, held)
    policy = copy.deepcopy(sft_model)
    for p in policy.parameters():
        p.requires_grad_(True)
    beta, batch_size = float(np.clip(cfg.beta, 1e-3, MAX_BETA)), int(np.clip(cfg.batch_size, 1, MAX_BATCH))
    log = {"margins": [], "accuracies": [], "chosen": [], "rejected": []}

    def batch_loss(generator):
        idx = torch.randint(0, len(train), (batch_size,), generator=generator)  # (B,)
        policy_chosen = sequence_logprobs(policy, *trim(data["chosen"], idx))  # (B,)
        policy_rejected = sequence_logprobs(policy, *trim(data["rejected"], idx))  # (B,)
        loss, chosen_rewards, rejected_rewards = dpo_loss(policy_chosen, policy_rejected, ref_chosen[idx],
                                                          ref_rejected[idx], beta)
        log["margins"].append((chosen_rewards - rejected_rewards).mean().item())
        log["accuracies"].append((chosen_rewards > rejected_rewards).float().mean().item())
        log["chosen"].append(chosen_rewards.mean().item())
        log["rejected"].append(rejected_rewards.mean().item())
        return loss

    trace = train_bounded(policy, batch_loss, cfg.steps, cfg.lr, cfg.seed, on_progress, label="DPO",
                          deadline=deadline)
    n = len(trace.losses)
    held_chosen, held_rejected = pair_logprobs(policy, held)
    _, held_w, held_l = dpo_loss(held_chosen, held_rejected, held_ref_chosen, held_ref_rejected, beta)
    prompts = [p.prompt for p in heldout]
    return DPOResult(
        config=cfg, losses=trace.losses, margins=tuple(log["margins"][:n]), accuracies=tuple(log["accuracies"][:n]),
        chosen_rewards=tuple(log["chosen"][:n]), rejected_rewards=tuple(log["rejected"][:n]),
        heldout_accuracy=float((held_w > held_l).float().mean()), heldout_margin=float((held_w - held_l).mean()),
        heldout_prefers_chosen_before=float((held_ref_chosen > held_ref_rejected).float().mean()),
        heldout_prefers_chosen_after=float((held_chosen > held_rejected).float().mean()),
        kl_to_ref=mean_token_kl(policy, reference, chat_tok, prompts, cfg.max_new_tokens),
        answers=tuple((p.prompt, p.chosen, answer(reference, chat_tok, p.prompt, cfg.max_new_tokens),
                       answer(policy, chat_tok, p.prompt, cfg.max_new_tokens)) for p in heldout),
        stopped_early=trace.stopped_early, timed_out=trace.timed_out), policy


SFT_SHARE, DPO_SHARE = 0.35, 0.35  # of sft_then_dpo's seconds; the rest measures (answers, KL)


def sft_then_dpo(base, tokenizer, sft_cfg, dpo_cfg: DPOConfig = DPOConfig(), on_progress=None,
                 max_seconds: float | None = MAX_SECONDS):
    """The DPO recipe from a pretrained model: SFT (prompt masked) on the instructions, then DPO against that
    SFT model; returns (SFTRun, DPOResult). Each stage trains for its share of max_seconds (None: no limit)."""
    from core.finetuning.instruction import sft

    def part(offset, width):
        return None if on_progress is None else (lambda f, m: on_progress(offset + width * f, m))

    limit = (lambda share: None) if max_seconds is None else (lambda share: deadline_after(share * max_seconds))
    sft_run, sft_model = sft(base, tokenizer, sft_cfg, True, part(0.0, 0.5), limit(SFT_SHARE))
    result, _ = dpo(sft_model, tokenizer, dpo_cfg, part(0.5, 0.5), limit(DPO_SHARE))
    return sft_run, result


# ---- the RLHF pipeline as data ---------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    key: str
    route: str  # "RLHF" | "DPO"
    name: str
    data: str  # what it learns from
    objective: str  # what it minimises or maximises
    output: str


RLHF_PIPELINE = (
    Stage("sft", "RLHF", "1. Supervised fine-tuning", "demonstrations (x, y)",
          "-log π(y|x) on response tokens", "π_SFT"),
    Stage("rm", "RLHF", "2. Reward model", "comparisons (x, y_w, y_l)",
          "-log σ(r(x, y_w) - r(x, y_l))", "r_φ"),
    Stage("ppo", "RLHF", "3. PPO", "prompts x, samples y ~ π",
          "max E[r_φ(x, y)] - β·KL(π ‖ π_SFT)", "π_RLHF"),
    Stage("sft_dpo", "DPO", "1. Supervised fine-tuning", "demonstrations (x, y)",
          "-log π(y|x) on response tokens", "π_SFT = π_ref"),
    Stage("dpo", "DPO", "2. DPO", "comparisons (x, y_w, y_l)",
          "-log σ(β[log π(y_w|x)/π_ref(y_w|x) - log π(y_l|x)/π_ref(y_l|x)])", "π_DPO"),
)
PIPELINE_EDGES = (("sft", "rm", "init"), ("sft", "ppo", "init + KL anchor"), ("rm", "ppo", "reward"),
                  ("sft_dpo", "dpo", "init + π_ref"))
PIPELINE_PAPERS = {"RLHF": "Ouyang et al. 2022, arXiv 2203.02155", "DPO": "Rafailov et al. 2023, arXiv 2305.18290"}


def print_progress(fraction: float, message: str) -> bool:
    print(f"  {fraction:4.0%} {message}")
    return True


if __name__ == "__main__":
    from core.compute import set_threads
    from core.finetuning.instruction import SFTConfig, sft
    from core.models import load_causal_lm

    set_threads()
    base, tok = load_causal_lm("tiny-lm")
    rm, _ = train_reward_model(base, tok, on_progress=print_progress)
    print(f"reward model: held-out pair accuracy {rm.heldout_accuracy_before:.0%} (random head) -> "
          f"{rm.heldout_accuracy:.0%} after {len(rm.losses)} steps; loss {rm.losses[0]:.3f} -> {rm.losses[-1]:.3f}")
    for kind in sorted(set(rm.heldout_kinds)):
        hits = [m > 0 for m, k in zip(rm.heldout_margins, rm.heldout_kinds) if k == kind]
        print(f"  rejected = {kind:8s}: {np.mean(hits):.0%} of {len(hits)}")
    sft_run, sft_model = sft(base, tok, SFTConfig(), mask_prompt=True, on_progress=print_progress)
    print(f"SFT: held-out exact match {sft_run.exact_match:.0%}")
    result, _ = dpo(sft_model, tok, DPOConfig(), on_progress=print_progress)
    print(f"DPO β={result.config.beta}: loss {result.losses[0]:.3f} -> {result.losses[-1]:.3f}, batch margin "
          f"{result.margins[-1]:.3f}, batch accuracy {result.accuracies[-1]:.0%}")
    print(f"  held-out: accuracy {result.heldout_accuracy:.0%}, margin {result.heldout_margin:.3f}, "
          f"log π(y_w) > log π(y_l): {result.heldout_prefers_chosen_before:.0%} (SFT) -> "
          f"{result.heldout_prefers_chosen_after:.0%} (DPO); KL to π_ref {result.kl_to_ref:.4f} nats/token")
    for prompt, chosen, before, after in result.answers[:8]:
        print(f"  {prompt!r}: want {chosen!r}; SFT {before!r}; DPO {after!r}")
