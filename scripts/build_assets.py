"""Build every bundled model from the bundled data, deterministically (seeded), on CPU.

    python scripts/build_assets.py            # everything (about 25 minutes on 2 cores)
    python scripts/build_assets.py lm clip    # only some steps

Steps:
  tokenizer  byte-level BPE (4,096 tokens) on the training split of assets/corpus/kjv.tsv
  lm         tiny Llama target + draft trained on that corpus; perplexities vs a unigram model
  clip       tiny CLIP trained contrastively on synthetic shape pictures; zero-shot accuracy
  tools      tiny-lm + LoRA (and the embedding rows the Bible never trained) taught ReAct tool calls on synthetic
             traces; held-out accuracy with and without tools (needs lm first)
  llava      tiny LLaVA: MLP projector + LoRA joining tiny-clip to tiny-lm, LLaVA's two stages; held-out
             accuracy against the majority answer (needs lm and clip first)

Results go to assets/models/ (weights in FP16 safetensors to keep the repo small; the
registry loads them as FP32) and their measured figures to assets/models/*.json + README.md.
"""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from core.compute import set_threads  # noqa: E402
from core.models import MODELS_DIR  # noqa: E402
from core.pretraining.data import corpus_text
from core.pretraining.tokenization import to_transformers, train_bpe
from core.pretraining.training import TrainConfig, perplexity, train_causal_lm, unigram_perplexity

VOCAB_SIZE = 4096
TOKENIZER_DIR = MODELS_DIR / "tokenizer"

# Target: 6 layers, GQA (6 query heads share 2 key/value heads), head dim 32.
TARGET = dict(hidden_size=192, intermediate_size=512, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2)
# Draft: the same tokenizer, 2 layers, a quarter of the width: much cheaper per token.
DRAFT = dict(hidden_size=96, intermediate_size=256, num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=1)
TARGET_TRAIN = TrainConfig(steps=480, batch_size=32, seq_len=128, lr=3e-3, warmup=50, seed=0)
DRAFT_TRAIN = TrainConfig(steps=400, batch_size=32, seq_len=128, lr=4e-3, warmup=30, seed=1)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build_tokenizer() -> None:
    text = corpus_text("train")
    tokenizer = train_bpe(text.splitlines(), VOCAB_SIZE)
    to_transformers(tokenizer).save_pretrained(TOKENIZER_DIR)
    log(f"tokenizer: {tokenizer.get_vocab_size()} tokens -> {TOKENIZER_DIR}")


def encode_split(tokenizer, split: str) -> torch.Tensor:
    """The split's verses as one token stream, verses separated by end-of-text."""
    ids = []
    for line in corpus_text(split).splitlines():
        ids.extend(tokenizer.encode(line))
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


def llama_config(tokenizer, shape: dict):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=512, rope_theta=10000.0,
                       tie_word_embeddings=True, bos_token_id=tokenizer.eos_token_id,
                       eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **shape)


def train_lm(name: str, shape: dict, cfg: TrainConfig, tokenizer, train_ids, heldout_ids) -> dict:
    from transformers import LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    model = LlamaForCausalLM(llama_config(tokenizer, shape))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{name}: {n_params / 1e6:.2f}M parameters, {cfg.steps} steps")
    start = time.perf_counter()

    def on_step(step, loss):
        if step % 50 == 0 or step == cfg.steps - 1:
            log(f"  {name} step {step:4d} loss {loss:.3f} ({time.perf_counter() - start:.0f}s)")

    losses = train_causal_lm(model, train_ids, cfg, on_step)
    out = MODELS_DIR / name
    model.to(torch.float16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    # Perplexity of the weights as shipped (FP16 on disk, upcast to FP32).
    model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    ppl = perplexity(model, heldout_ids, seq_len=cfg.seq_len)
    report = {"name": name, "parameters": n_params, "config": shape, "train": cfg.__dict__,
              "train_seconds": round(time.perf_counter() - start, 1), "final_train_loss": round(losses[-1], 4),
              "heldout_perplexity": round(ppl, 3)}
    log(f"{name}: held-out perplexity {ppl:.2f}")
    return report


def build_lms() -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    train_ids, heldout_ids = encode_split(tokenizer, "train"), encode_split(tokenizer, "heldout")
    unigram = unigram_perplexity(train_ids, heldout_ids, len(tokenizer))
    log(f"corpus: {len(train_ids)} training tokens, {len(heldout_ids)} held out; unigram perplexity {unigram:.1f}")
    reports = {
        "unigram_heldout_perplexity": round(unigram, 3),
        "train_tokens": len(train_ids),
        "heldout_tokens": len(heldout_ids),
        "tiny-lm": train_lm("tiny-lm", TARGET, TARGET_TRAIN, tokenizer, train_ids, heldout_ids),
        "tiny-lm-draft": train_lm("tiny-lm-draft", DRAFT, DRAFT_TRAIN, tokenizer, train_ids, heldout_ids),
    }
    (MODELS_DIR / "lm_report.json").write_text(json.dumps(reports, indent=2) + "\n")


def build_clip() -> None:
    from core.multimodal.clip_training import build_tiny_clip

    report = build_tiny_clip(MODELS_DIR / "tiny-clip", TOKENIZER_DIR, log=log)
    (MODELS_DIR / "clip_report.json").write_text(json.dumps(report, indent=2) + "\n")


def build_tools() -> None:
    from core.agents.tool_lm import ADAPTER_DIR, build_tool_lm

    build_tool_lm(ADAPTER_DIR, log=log)  # writes assets/models/tiny-lm-tools/{adapter_*, report.json}


def build_llava() -> None:
    from core.multimodal.llava_train import build_tiny_llava

    report = build_tiny_llava(MODELS_DIR / "tiny-llava", log=log)
    (MODELS_DIR / "llava_report.json").write_text(json.dumps(report, indent=2) + "\n")


SAMPLE_PROMPTS = ("And the LORD said", "In the beginning", "Blessed are the")


def lm_samples() -> list[str]:
    """Seeded samples of the target model, prompt in bold (end-of-verse suppressed, so 40 tokens run on)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(MODELS_DIR / "tiny-lm", dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(MODELS_DIR / "tiny-lm")
    samples = []
    for prompt in SAMPLE_PROMPTS:
        torch.manual_seed(0)
        batch = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**batch, max_new_tokens=40, do_sample=True, temperature=0.8, top_k=50,
                             pad_token_id=tokenizer.pad_token_id, suppress_tokens=[tokenizer.eos_token_id])
        samples.append(f"**{prompt}**" + tokenizer.decode(out[0, batch.input_ids.shape[1]:], skip_special_tokens=True))
    return samples


def write_models_readme() -> None:
    """assets/models/README.md from the measured reports, so the figures there are never typed by hand."""
    lm = json.loads((MODELS_DIR / "lm_report.json").read_text())
    clip_path = MODELS_DIR / "clip_report.json"
    clip = json.loads(clip_path.read_text()) if clip_path.exists() else None
    rows = [f"| {name} | {lm[name]['parameters'] / 1e6:.2f}M | {lm[name]['config']['num_hidden_layers']} | "
            f"{lm[name]['config']['hidden_size']} | {lm[name]['train']['steps']} | {lm[name]['train_seconds']:.0f} s | "
            f"{lm[name]['heldout_perplexity']:.1f} |" for name in ("tiny-lm", "tiny-lm-draft")]
    ratio = lm["tiny-lm"]["heldout_perplexity"] / lm["unigram_heldout_perplexity"]
    samples = "\n".join(f"> {s}  " for s in lm_samples())
    text = f"""# Bundled models

Built by `python scripts/build_assets.py` (seeded, CPU) from `assets/corpus/kjv.tsv`; the figures below are
written by that script from its own measurements (`lm_report.json`, `clip_report.json`). Weights are stored
in FP16 safetensors to keep the repository small and load as FP32.

## Tokenizer
`tokenizer/`: byte-level BPE, {VOCAB_SIZE:,} tokens, trained with Hugging Face `tokenizers` on the training split.

## Language models (Llama architecture: RMSNorm, RoPE, SwiGLU, grouped-query attention, tied embeddings)
Held-out text: {lm['heldout_tokens']:,} tokens from chapters never seen in training
({lm['train_tokens']:,} training tokens).

| model | parameters | layers | hidden | steps | train time | held-out perplexity |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
| unigram baseline (token frequencies) | | | | | | {lm['unigram_heldout_perplexity']:.1f} |

The target's perplexity is {ratio:.3f} of the unigram model's (the requirement is at most 1/3).

Samples of tiny-lm (temperature 0.8, top-k 50, seed 0, 40 new tokens, prompts in bold):

{samples}
"""
    if clip:
        zs, zsp = clip["zero_shot"], clip["zero_shot_with_position"]
        text += f"""
## Tiny CLIP
`tiny-clip/`: {clip['parameters'] / 1e6:.2f}M parameters (vision {clip['vision_parameters'] / 1e6:.2f}M, text
{clip['text_parameters'] / 1e6:.2f}M), a `CLIPModel` trained contrastively for {clip['config']['steps']} steps on
synthetic {clip['config']['image_size']}x{clip['config']['image_size']} pictures (shapes x colours x positions) and their
captions, in {clip['train_seconds']:.0f} s.

| zero-shot on {zs['n']:,} held-out pictures | labels | accuracy |
|---|---|---|
| colour + shape | {zs['n_labels']} | {100 * zs['accuracy']:.1f}% |
| colour + shape + position | {zsp['n_labels']} | {100 * zsp['accuracy']:.1f}% |
"""
    tools_path = MODELS_DIR / "tiny-lm-tools" / "report.json"
    if tools_path.exists():
        t = json.loads(tools_path.read_text())
        rows = "\n".join(f"| {r['family']} | {r['n']} | {100 * r['with_tools']:.1f}% | {100 * r['without_tools']:.1f}% | "
                         f"{100 * r['right_tool']:.0f}% |" for r in t["heldout"])
        right = [r["with_tools"] for r in t["heldout"]]
        verdict = ("It learned the format and which tool to call, but its answers are rarely right (the tool inputs "
                   "carry the wrong numbers)" if sum(right) / len(right) < 0.2 else
                   f"With tools it answers {100 * sum(right) / len(right):.0f}% of the held-out questions right")
        text += f"""
## Tool LM
`tiny-lm-tools/`: a LoRA adapter on tiny-lm (rank {t['config']['rank']}, plus new rows for the
{len(t['trained_token_embeddings'])} tokens the Bible never trained, such as the digits; {t['trainable_parameters']:,}
parameters) fine-tuned for {t['config']['steps']} steps on {t['train_traces']:,} synthetic ReAct traces whose
Observations the real tools wrote, loss on what the model writes only, in {t['train_seconds']:.0f} s. {verdict}:

| held-out family | questions | right with tools | right without tools | right tool first |
|---|---|---|---|---|
{rows}
"""
    llava_path = MODELS_DIR / "llava_report.json"
    if llava_path.exists():
        r = json.loads(llava_path.read_text())
        h = r["heldout"]
        rows = "\n".join(f"| {task} | {100 * h['with_image'][task]:.1f}% | {100 * h['majority'][task]:.1f}% |"
                         for task in ("caption", "colour", "shape", "position"))
        text += f"""
## Tiny LLaVA
`tiny-llava/`: only what LLaVA adds to tiny-clip and tiny-lm: a 2-layer MLP projector
({r['projector_parameters']:,} parameters) and a LoRA on tiny-lm (rank {r['config']['lora_r']},
{r['lora_parameters']:,} parameters), trained in two stages ({r['config']['stage1_steps']} steps of projector
alignment on captions, then {r['config']['stage2_steps']} steps of instruction tuning) in {r['total_seconds']:.0f} s.

| held-out pictures ({h['n']}), exact match | with the picture | majority answer |
|---|---|---|
{rows}
"""
    (MODELS_DIR / "README.md").write_text(text)


STEPS = {"tokenizer": build_tokenizer, "lm": build_lms, "clip": build_clip, "tools": build_tools,
         "llava": build_llava}


def main(argv: list[str]) -> None:
    set_threads()
    chosen = argv or list(STEPS)
    for name in chosen:
        if name not in STEPS:
            raise SystemExit(f"unknown step {name!r}; choose from {list(STEPS)}")
    start = time.perf_counter()
    for name in chosen:
        log(f"== {name}")
        STEPS[name]()
    if (MODELS_DIR / "lm_report.json").exists():
        write_models_readme()
    log(f"done in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
