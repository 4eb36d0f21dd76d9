"""A tiny tool-using LM: tiny-lm fine-tuned with LoRA to write ReAct steps, and Toolformer's question measured.

Toolformer (Schick et al. 2023, https://arxiv.org/abs/2302.04761) taught a language model *where* a tool
call helps, from examples of calls whose results made the text that follows likelier. Here the examples are
synthetic ReAct traces (core.agents.tool_traces) whose Observations the real tools wrote. The model is the
bundled tiny-lm (a 3.1M-parameter Llama that has only read the King James Bible) plus a LoRA adapter
(Hu et al. 2021, arXiv 2106.09685) on every linear layer, and new rows for the few token embeddings the
Bible never trained (digits, brackets, '*', '=', the newline: see `unseen_tokens`; without them the ten
digits are one vector and no adapter can copy a number). The loss sees only what the model writes:

    Tools: calculator, convert, date, search          <- header: which mode (not in the loss)
    Question: What is 37 * 24?                        <- the user's (not in the loss)
    Thought 1:| This is arithmetic, so I use the calculator.\\nAction 1: calculator[37 * 24]\\n|   <- model (loss)
    Observation 1: 888                                <- the tool's (not in the loss)
    Thought 2:| The tool's answer is 888.\\nAction 2: finish[888]<|endoftext|>|                  <- model (loss)

As a policy it continues that prompt greedily (at most MAX_NEW_TOKENS, stopped once it has written a whole
Action line, i.e. where "\\nObservation" would begin); the real loop (core.agents.loop) parses and runs the
Action, so malformed output becomes an error Observation and the step limit applies.

"Without tools" is the same model prompted with the header "Tools: none", which it was trained to answer
at once (Thought, then finish[...]) on the same training questions with their gold answers: its best shot
from memory. It gets one step and no tool ever runs; writing anything but finish[...] counts as no answer.
What a 3M-parameter model can learn here is the *format* and *where to call*, not reasoning: measured on
held-out questions (assets/models/tiny-lm-tools/report.json), the build's adapter writes well-formed steps
and picks the right tool, but it has not learned to *copy* digits (from the question into the tool input,
from the Observation into finish[...]), so its answers are rarely right with tools or without. Copying is
what Toolformer's 6.7B-parameter model brought for free; here it would need far more training than a
build of a few minutes. Shapes: B batch, T tokens.
"""
import copy
import functools
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.agents import tool_traces as tt
from core.agents.loop import take_step
from core.agents.tools import SearchTool
from core.agents.trace import Decision, Step
from core.models import MODELS_DIR, loading, model_path

ADAPTER_DIR = MODELS_DIR / "tiny-lm-tools"
HEADERS = {True: "Tools: calculator, convert, date, search", False: "Tools: none"}
OBS_CHARS = 320  # of each Observation the model reads: its context is 512 tokens, about 2 characters each
MAX_NEW_TOKENS = 48  # per step
MAX_STEPS = 4  # a tool trace takes 2; the rest is room for a confused model
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
_ACTION_LINE = re.compile(r"^\s*Action\s*\d*\s*:\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_DONE = re.compile(r"\n\s*Action[^\n]*\n|\nObservation|\nThought", re.IGNORECASE)


@dataclass(frozen=True)
class ToolLMConfig:
    rank: int = 32
    alpha: int = 64
    steps: int = 240
    batch_size: int = 16
    lr: float = 3e-3
    warmup: int = 20
    n_train: int = 240  # questions per family (arithmetic, units, dates); kb: every training pair, every phrasing
    n_heldout: int = 24  # per family (kb: the pairs of the held-out entries, up to this many)
    direct_share: float = 0.5  # of training questions also given as a no-tool (direct answer) trace
    heldout_entries: float = 0.3  # share of knowledge-base entries held out
    seed: int = 0


# ---- the text the model reads and writes --------------------------------------------------------------
def step_pieces(question: str, steps: tuple[Step, ...], tools: bool = True) -> list[tuple[str, bool]]:
    """A transcript as (text, written by the model?) pieces, in the loop's 'Thought i: / Action i: /
    Observation i:' lines (core.agents.loop.format_steps), each Observation cut to OBS_CHARS."""
    pieces = [(f"{HEADERS[tools]}\nQuestion: {question}\n", False)]
    for s in steps:
        pieces.append((f"Thought {s.index}:", False))
        if s.tool == "finish" and s.ok:
            pieces.append((f" {s.thought}\nAction {s.index}: {s.action}", True))
        else:
            pieces.append((f" {s.thought}\nAction {s.index}: {s.action}\n", True))
            pieces.append((f"Observation {s.index}: {s.observation[:OBS_CHARS]}\n", False))
    return pieces


def prompt_text(question: str, steps: tuple[Step, ...] = (), tools: bool = True) -> str:
    """What the model reads before writing step len(steps) + 1: the transcript, then 'Thought n:'
    (a finished transcript is returned as it is)."""
    text = "".join(piece for piece, _ in step_pieces(question, steps, tools))
    finished = bool(steps) and steps[-1].tool == "finish" and steps[-1].ok
    return text if finished else text + f"Thought {len(steps) + 1}:"


def encode_trace(tokenizer, pieces: list[tuple[str, bool]]) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of a whole trace + end-of-text; labels are -100 except on model-written tokens.

    The text is tokenized whole (as the prompt is at run time) and each token is labelled by where its first
    character falls: pieces start at pre-token boundaries (':' | ' This', ']' | '\\n'), so none is split.
    """
    text, spans, start = "", [], 0
    for piece, written in pieces:
        text += piece
        if written:
            spans.append((start, len(text)))
        start = len(text)
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    ids = list(enc.input_ids) + [tokenizer.eos_token_id]
    labels = [i if any(a <= lo < b for a, b in spans) else -100 for i, (lo, _) in zip(enc.input_ids,
                                                                                     enc.offset_mapping)]
    return ids, labels + [tokenizer.eos_token_id]  # the end-of-text after finish[...] teaches it to stop


def worked_steps(q: tt.ToolQuestion, search_tool: SearchTool, tools: bool = True) -> tuple[Step, ...]:
    """The steps of a good trace, with the real tools run through the loop's own take_step."""
    decisions = tt.tool_decisions(q) if tools else (tt.direct_decision(q),)
    return tuple(take_step(i, d.thought, d.action, search_tool, by="teacher") for i, d in enumerate(decisions, 1))


# ---- the data: seeded questions, a held-out split ------------------------------------------------------
def split_titles(search_tool: SearchTool, cfg: ToolLMConfig) -> tuple[set[str], set[str]]:
    """(training, held-out) knowledge-base entry titles, a seeded split of those with answerable questions."""
    titles = sorted({p[0] for p in tt.kb_pairs(search_tool, OBS_CHARS)})
    random.Random(cfg.seed).shuffle(titles)
    n_out = round(len(titles) * cfg.heldout_entries)
    return set(titles[n_out:]), set(titles[:n_out])


def questions(search_tool: SearchTool, cfg: ToolLMConfig = ToolLMConfig()) -> tuple[list, list]:
    """(training, held-out) ToolQuestions; no held-out question (or tool input) appears in training."""
    train_titles, heldout_titles = split_titles(search_tool, cfg)
    train = tt.make_questions(cfg.n_train, cfg.seed + 1, train_titles, search_tool, OBS_CHARS, every_phrasing=True)
    seen = {q.question for q in train} | {q.tool_input for q in train if q.family != "kb"}
    pool = tt.make_questions(cfg.n_heldout * 2, cfg.seed + 2, heldout_titles, search_tool, OBS_CHARS)
    heldout, count = [], {f: 0 for f in tt.FAMILIES}
    for q in pool:
        if q.question not in seen and q.tool_input not in seen and count[q.family] < cfg.n_heldout:
            heldout.append(q)
            count[q.family] += 1
    return train, heldout


def heldout_questions(cfg: ToolLMConfig = ToolLMConfig(), search_tool: SearchTool | None = None) -> list:
    return questions(search_tool or SearchTool.from_kb(), cfg)[1]


# ---- training: LoRA, loss on the model-written tokens only -----------------------------------------------
def unseen_tokens(base, examples: list, threshold: float = 1.5) -> list[int]:
    """Token ids the traces use that pretraining never trained: digits, brackets, '*', '=' never occur in the
    King James Bible, so weight decay and the softmax pushed their (tied) embeddings to one shared direction
    (the ten digits: cosine 0.99, norm ~2.2 against ~0.8 for a trained token). No adapter on the layers can
    tell such tokens apart, so their rows are trained too. Picked by norm: [17, 18, ..., 26, ...]."""
    norms = base.get_input_embeddings().weight.detach().norm(dim=1)  # (V,)
    used = sorted({i for ids, _ in examples for i in ids})
    return [i for i in used if norms[i] > threshold]


def lora_model(base, cfg: ToolLMConfig, token_ids: list[int] = ()):
    """A peft LoRA model around a *copy* of the base (the cached base is never modified); the rows of `token_ids`
    in the (tied) embedding are trained too, re-initialized at random (seeded) at an ordinary token's norm."""
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=0.0, target_modules=list(TARGET_MODULES),
                      bias="none", task_type="CAUSAL_LM",
                      trainable_token_indices={"embed_tokens": list(token_ids)} if token_ids else None)
    model = get_peft_model(copy.deepcopy(base), lora)
    if token_ids:
        weight = base.get_input_embeddings().weight.detach()  # (V, C)
        typical = float(weight.norm(dim=1).median())
        generator = torch.Generator().manual_seed(cfg.seed)
        for name, p in model.named_parameters():
            if "trainable_tokens_delta" in name:  # (len(token_ids), C): the rows that replace the embedding's
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=generator) * typical / p.shape[1] ** 0.5)
    return model


def length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of examples of similar length (less padding): sort within chunks of 8 batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for c in range(0, len(order), 8 * batch_size):
        chunk = sorted(order[c:c + 8 * batch_size], key=lengths.__getitem__)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples: list[tuple[list, list]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad (ids, labels) pairs to the longest: input_ids, labels, attention_mask, each (B, T)."""
    longest = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), longest), pad_id)
    labels = torch.full((len(examples), longest), -100)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for row, (i, lab) in enumerate(examples):
        ids[row, :len(i)], labels[row, :len(lab)], mask[row, :len(i)] = torch.tensor(i), torch.tensor(lab), 1
    return ids, labels, mask


def training_examples(tokenizer, train: list, search_tool: SearchTool, cfg: ToolLMConfig) -> list:
    """Encoded tool traces for every training question, plus direct-answer traces for a seeded share."""
    rng = random.Random(cfg.seed)
    examples = []
    for q in train:
        examples.append(encode_trace(tokenizer, step_pieces(q.question, worked_steps(q, search_tool))))
        if rng.random() < cfg.direct_share:
            steps = worked_steps(q, search_tool, tools=False)
            examples.append(encode_trace(tokenizer, step_pieces(q.question, steps, tools=False)))
    return examples


def masked_loss(causal_lm, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled (model-written) tokens, as `causal_lm(labels=...).loss`,
    but with logits computed only where a label is: the lm_head (192 -> 4,096) is about 40 % of tiny-lm's work
    per token, and half the tokens here are Questions and Observations."""
    hidden = causal_lm.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
    targets = labels[:, 1:]  # (B, T-1): the token after each position
    keep = targets != -100  # (B, T-1)
    logits = causal_lm.lm_head(hidden[:, :-1][keep])  # (N, V): only the N labelled positions
    return torch.nn.functional.cross_entropy(logits, targets[keep])


def train_adapter(base, tokenizer, examples: list, cfg: ToolLMConfig, on_step=None, token_ids: list[int] = ()):
    """AdamW on the LoRA weights (and the rows of token_ids) for cfg.steps steps (linear warm-up, cosine decay);
    returns (peft model, losses). on_step(step, loss) is called after every step (logging)."""
    from core.pretraining.training import TrainConfig, lr_at

    torch.manual_seed(cfg.seed)
    model = lora_model(base, cfg, token_ids)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    schedule = TrainConfig(steps=cfg.steps, lr=cfg.lr, warmup=cfg.warmup)
    rng = random.Random(cfg.seed)
    lengths = [len(ids) for ids, _ in examples]
    batches: list = []
    losses = []
    model.train()
    for step in range(cfg.steps):
        if not batches:
            batches = length_batches(lengths, cfg.batch_size, rng)
        ids, labels, mask = collate([examples[i] for i in batches.pop()], tokenizer.pad_token_id)  # (B, T) each
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, schedule)
        loss = masked_loss(model.get_base_model(), ids, labels, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(loss.item())
        if on_step:
            on_step(step, losses[-1])
    model.eval()
    return model, losses


def load_tool_lm(adapter_dir: Path = ADAPTER_DIR):
    """(model, tokenizer): a fresh tiny-lm with the adapter merged in (a separate model, never the cached base)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir = model_path("tiny-lm")
    if not (Path(adapter_dir) / "adapter_config.json").exists():
        raise FileNotFoundError(f"tool LM: {adapter_dir} is missing; run `python scripts/build_assets.py tools`")
    with loading():
        base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
        model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    return model.float().eval(), AutoTokenizer.from_pretrained(base_dir)


# ---- the policy: greedy continuation, parsed into a Decision ---------------------------------------------
@torch.no_grad()
def continue_greedy(model, tokenizer, prompt: str, max_new_tokens: int = MAX_NEW_TOKENS) -> tuple[str, int]:
    """(continuation, prompt tokens read): greedy, with a KV cache, stopped at end-of-text, after a whole
    Action line (where "\\nObservation" would begin), or at max_new_tokens; the prompt's end is kept if too long."""
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids  # (1, T)
    ids = ids[:, max(0, ids.shape[1] - (model.config.max_position_embeddings - max_new_tokens)):]
    out = model(input_ids=ids, use_cache=True)
    new: list[int] = []
    for _ in range(max_new_tokens):
        token = int(out.logits[0, -1].argmax())
        if token == tokenizer.eos_token_id:
            break
        new.append(token)
        if _DONE.search(tokenizer.decode(new)):
            break
        out = model(input_ids=torch.tensor([[token]]), past_key_values=out.past_key_values, use_cache=True)
    text = tokenizer.decode(new)
    return re.split(r"\nObservation|\nThought", text)[0], int(ids.shape[1])


def parse_decision(text: str) -> Decision:
    """'This is arithmetic…\\nAction 1: calculator[2 + 2]\\n' -> Decision(thought, 'calculator[2 + 2]').
    No Action line: the action is empty, which the loop answers with an error Observation."""
    match = _ACTION_LINE.search(text)
    thought = text[:match.start()] if match else text
    return Decision(" ".join(thought.split()), match.group(1).strip() if match else "")


@dataclass
class ToolLMPolicy:
    """run_agent's policy: (question, steps) -> Decision, written by the tool LM. Keeps, per call, what the
    model wrote and how long it took (`calls`), so one run's steps can be shown with their timing."""
    model: object
    tokenizer: object
    max_new_tokens: int = MAX_NEW_TOKENS
    calls: list = field(default_factory=list)  # (raw continuation, prompt tokens, seconds) per step
    __name__ = "tool-lm"

    def __call__(self, question: str, steps: tuple[Step, ...]) -> Decision:
        start = time.perf_counter()
        text, n_prompt = continue_greedy(self.model, self.tokenizer, prompt_text(question, steps), self.max_new_tokens)
        self.calls.append((text, n_prompt, time.perf_counter() - start))
        return parse_decision(text)


@functools.lru_cache(maxsize=1)
def shared_tool_lm():
    """(model, tokenizer), loaded once per process and shared read-only: by the named policy and the page."""
    return load_tool_lm()


def tool_lm_policy(question: str, steps: tuple[Step, ...]) -> Decision:
    """The tool LM as a named policy for core.agents.policies.POLICIES (the model loads on first use)."""
    return ToolLMPolicy(*shared_tool_lm())(question, steps)


# ---- the build --------------------------------------------------------------------------------------------
def build_tool_lm(out_dir: Path = ADAPTER_DIR, log=print, cfg: ToolLMConfig = ToolLMConfig()) -> dict:
    """Generate the traces, train the adapter, save it (FP16), reload it from disk, measure; returns the report
    (also written to out_dir/report.json)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.agents.toolformer_eval import (  # it imports this module: not at the top
        ROW_KEYS,
        evaluate,
    )

    start = time.perf_counter()
    search_tool = SearchTool.from_kb()
    tokenizer = AutoTokenizer.from_pretrained(model_path("tiny-lm"))
    base = AutoModelForCausalLM.from_pretrained(model_path("tiny-lm"), dtype=torch.float32)
    train, held_out = questions(search_tool, cfg)
    examples = training_examples(tokenizer, train, search_tool, cfg)
    n_tokens = sum(len(ids) for ids, _ in examples)
    n_loss = sum(sum(x != -100 for x in lab) for _, lab in examples)
    log(f"tools: {len(train)} training questions -> {len(examples)} traces, {n_tokens:,} tokens "
        f"({n_loss:,} in the loss); {len(held_out)} held out")

    recent: list[float] = []

    def on_step(step, loss):
        recent.append(loss)
        if step % 20 == 0 or step == cfg.steps - 1:
            log(f"  tools step {step:4d} loss {sum(recent) / len(recent):.3f} (mean of {len(recent)}; "
                f"{time.perf_counter() - start:.0f}s)")
            recent.clear()

    token_ids = unseen_tokens(base, examples)
    log(f"tools: {len(token_ids)} token embeddings pretraining never trained are trained too: "
        f"{tokenizer.convert_ids_to_tokens(token_ids)}")
    model, losses = train_adapter(base, tokenizer, examples, cfg, on_step, token_ids)
    train_seconds = time.perf_counter() - start
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.to(torch.float16)
    model.save_pretrained(out_dir)
    (out_dir / "README.md").unlink(missing_ok=True)  # peft's generic model card; report.json says what this is
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.name.startswith("adapter_"))
    log(f"tools: adapter saved ({size / 1e6:.2f} MB); measuring {len(held_out)} held-out questions")
    model, tokenizer = load_tool_lm(out_dir)
    result = evaluate(model, tokenizer, held_out, search_tool)
    rows = [dict(zip(ROW_KEYS, r)) for r in result.rows]
    for r in rows:
        log(f"  {r['family']:10s} n={r['n']:2d} with tools {r['with_tools']:.0%} without {r['without_tools']:.0%} "
            f"right tool first {r['right_tool']:.0%}")
    report = {
        "base": "tiny-lm", "method": "LoRA", "config": cfg.__dict__, "target_modules": list(TARGET_MODULES),
        "headers": {"with_tools": HEADERS[True], "without_tools": HEADERS[False]}, "obs_chars": OBS_CHARS,
        "train_questions": len(train), "train_traces": len(examples), "train_tokens": n_tokens,
        "loss_tokens": n_loss, "trainable_parameters": n_trainable,
        "trained_token_embeddings": tokenizer.convert_ids_to_tokens(token_ids),
        "adapter_bytes": size, "train_seconds": round(train_seconds, 1),
        "first_loss": round(losses[0], 4), "final_loss": round(sum(losses[-10:]) / len(losses[-10:]), 4),
        "heldout": rows, "build_seconds": round(time.perf_counter() - start, 1),
        "examples": [s.__dict__ for s in result.scored[:12]],
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"tools: done in {report['build_seconds']:.0f} s")
    return report
