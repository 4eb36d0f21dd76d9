"""Multimodal: a tiny CLIP that matches pictures with captions, zero-shot classification, pictures as
patch tokens (ViT), how LLaVA feeds image features to a language model, and a tiny CLIP trained live."""
import random

import numpy as np
import streamlit as st

import ui
from core import models
from core.charts import multimodal as charts
from core.multimodal import clip as tiny_clip
from core.multimodal import patches as vit
from core.multimodal import uploads
from core.multimodal.shapes import (
    COLOURS,
    HELDOUT_SEED,
    POSITIONS,
    SHAPES,
    Spec,
    draw_picture,
    random_spec,
)
from core.state import Param
from ui.multimodal import llava as llava_ui
from ui.multimodal import train_clip

DEMO_SIZE = 96  # the patch demo draws the picture at 96×96: many divisors to choose P from
PATCH_SIZES = (4, 6, 8, 12, 16, 24, 32, 48)
VIEWS = ("cosine", "logits", "softmax")
VIEW_HELP = {"cosine": "cosine similarity cos(image i, caption j)",
             "logits": "logits exp(t)·cos, what the loss sees",
             "softmax": "softmax over captions for each picture"}
SOURCES = ("generated", "upload")
MAX_PROMPTS, MAX_PROMPT_CHARS = 12, 80  # the learner's own zero-shot prompts: one a line
DEFAULT_PROMPTS = "a photo of a red circle\na photo of a red square\na photo of a blue circle\na drawing of a cat"

PARAMS = [
    Param("batch", 8, 4, 12, step=1),
    Param("batch_seed", 0, 0, 999_999, step=1),
    Param("view", "cosine", choices=VIEWS),
    Param("source", "generated", choices=SOURCES),
    Param("shape", "circle", choices=SHAPES),
    Param("colour", "red", choices=tuple(COLOURS)),
    Param("position", "left", choices=tuple(POSITIONS)),
    Param("seed", 1, 0, 999_999, step=1),
    Param("labels", tiny_clip.LABEL_SETS[0], choices=tiny_clip.LABEL_SETS),
    Param("patch", 16, choices=PATCH_SIZES),
    Param("own_prompts", False),
    Param("prompts", DEFAULT_PROMPTS, max_len=MAX_PROMPTS * (MAX_PROMPT_CHARS + 1)),
    *llava_ui.PARAMS,
    *train_clip.PARAMS,
]


# ---- cached computations (parameters in, plain results out) --------------------------------
@st.cache_resource(show_spinner=False)
def _prep() -> tiny_clip.ImagePrep:
    return tiny_clip.ImagePrep.load(models.model_path("tiny-clip"))


@st.cache_resource(show_spinner=False)
def _untrained():
    model, tokenizer = ui.clip()
    return tiny_clip.untrained_clip(model.config, seed=0), tokenizer


# Entry sizes: a similarity batch holds B ≤ 12 pictures of 32×32×3 (≤ 40 kB), a zero-shot result ≤ 120
# probabilities and labels (≤ 20 kB), a decoded upload ≤ 256×256×3 bytes (192 kB), a LLaVA trace a few rows.
@ui.cached_compute(max_entries=128, max_size="8MB")
def _similarity(n: int, seed: int, trained: bool) -> tiny_clip.SimilarityResult:
    model, tokenizer = ui.clip() if trained else _untrained()
    return tiny_clip.similarity_batch(model, tokenizer, _prep(), n=n, seed=seed)


@ui.cached_compute(max_entries=256, max_size="8MB")
def _zero_shot_generated(shape: str, colour: str, position: str, seed: int, labels: str) -> tiny_clip.ZeroShotResult:
    model, tokenizer = ui.clip()
    picture = draw_picture(Spec(shape, colour, position, HELDOUT_SEED + seed), _prep().image_size)
    return tiny_clip.zero_shot(model, tokenizer, _prep(), picture, labels)


@ui.cached_compute(max_entries=64, max_size="4MB")
def _zero_shot_upload(small: np.ndarray, labels: str) -> tiny_clip.ZeroShotResult:
    model, tokenizer = ui.clip()
    return tiny_clip.zero_shot(model, tokenizer, _prep(), small, labels)


@ui.cached_compute(max_entries=128, max_size="4MB")
def _zero_shot_prompts(small: np.ndarray, prompts: tuple[str, ...]) -> np.ndarray:
    """Softmax over the learner's prompts (N,) for one picture: zero-shot with labels chosen at test time."""
    model, tokenizer = ui.clip()
    image_embeds = tiny_clip.embed_images(model, tiny_clip.preprocess([small], _prep()))  # (1, E)
    text_embeds = tiny_clip.embed_texts(model, tokenizer, list(prompts))  # (N, E)
    return tiny_clip.clip_logits(image_embeds, text_embeds, model.logit_scale.exp().item())[0].softmax(-1).numpy()


@ui.cached_compute(max_entries=32, max_size="8MB")
def _decoded(data: bytes) -> tuple[np.ndarray | None, str | None]:
    """(picture (h, w, 3) uint8, None) or (None, why it was refused): keyed by the bytes, so each upload
    is checked and decoded once, under the lock, and a refusal is remembered too."""
    try:
        return uploads.decode_upload(data), None
    except ValueError as err:
        return None, str(err)


def upscale(picture: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscale for display, so the pixels stay visible."""
    k = max(1, size // picture.shape[0])
    return picture.repeat(k, axis=0).repeat(k, axis=1)


# ---- sections ------------------------------------------------------------------------------
def similarity_section() -> None:
    st.header("1 · Contrastive training makes a diagonal")
    ui.explain(
        "CLIP learns from (picture, caption) pairs only. In a batch of B pairs every picture is scored against "
        "every caption; the loss rewards the B matching pairs (the diagonal) and pushes down the B² − B "
        "mismatches. Below: a batch of held-out pictures (new seeds, never seen in training) and their "
        "captions, scored by the **same architecture with random weights** and by the **trained** tiny CLIP.")
    c1, c2, c3 = st.columns([2, 2, 3])
    n = c1.slider("Pairs in the batch B", 4, 12, key="batch")
    c2.number_input("Batch seed", 0, 999_999, key="batch_seed")
    c2.button("New batch", key="new_batch", on_click=_bump_batch_seed, icon=":material/shuffle:")
    view = c3.radio("Show", VIEWS, key="view", format_func=VIEW_HELP.get)
    seed = st.session_state["batch_seed"]
    with ui.heavy("Scoring the batch"):
        before, after = _similarity(n, seed, False), _similarity(n, seed, True)
    st.image([upscale(p, 64) for p in after.pictures], caption=[f"picture {i + 1}" for i in range(n)], width=64)
    st.caption("Captions: " + " · ".join(f"**{j + 1}** {c}" for j, c in enumerate(after.captions)))
    cols = st.columns(2)
    for col, res, name in ((cols[0], before, "untrained (random weights)"), (cols[1], after, "trained tiny CLIP")):
        values, domain = _view(res, view)
        frame = charts.similarity_frame(values, res.captions)
        ui.chart(charts.similarity_heatmap, frame, name, view, domain, size=220, on=col)
        col.caption(f"InfoNCE loss **{res.loss:.3g}** (chance: ln B = {np.log(n):.3f}) · "
                    f"own caption ranked first for **{res.top1:.0%}** of pictures · exp(t) = {res.logit_scale:.1f}")
    st.caption("Measured live on this server's CPU. The captions all differ in shape, colour or position, so the "
               "diagonal is the only correct pairing; the temperature t is learned (CLIP starts at exp(t) = 1/0.07 "
               "≈ 14.3 and caps it at 100).")
    ui.code_behind(tiny_clip.similarity_batch, tiny_clip.info_nce, tiny_clip.tokenize)


def _bump_batch_seed() -> None:
    st.session_state["batch_seed"] = (st.session_state["batch_seed"] + 1) % 1_000_000


def _view(res: tiny_clip.SimilarityResult, view: str) -> tuple[np.ndarray, tuple | None]:
    if view == "logits":
        return res.logit_scale * res.cosine, None
    if view == "softmax":
        logits = res.logit_scale * res.cosine
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        return probs / probs.sum(axis=1, keepdims=True), (0.0, 1.0)
    return res.cosine, (-1.0, 1.0)


def _randomize() -> None:
    spec = random_spec(random.randrange(1_000_000))
    st.session_state.update(shape=spec.shape, colour=spec.colour, position=spec.position, seed=spec.seed)


def picture_ui() -> tuple[np.ndarray | None, np.ndarray | None, bool, dict | None]:
    """Widgets for the picture -> (picture at DEMO_SIZE, the model's S×S picture, whether it was uploaded,
    truth or None)."""
    size = _prep().image_size
    source = st.radio("Picture", SOURCES, key="source", horizontal=True,
                      format_func={"generated": "draw one", "upload": "upload your own"}.get)
    if source == "generated":
        c1, c2, c3, c4 = st.columns(4)
        shape = c1.selectbox("Shape", SHAPES, key="shape")
        colour = c2.selectbox("Colour", list(COLOURS), key="colour")
        position = c3.selectbox("Position", list(POSITIONS), key="position")
        seed = c4.number_input("Jitter seed", 0, 999_999, key="seed")
        c4.button("Random picture", key="random_picture", on_click=_randomize, icon=":material/casino:")
        spec = Spec(shape, colour, position, HELDOUT_SEED + seed)
        return draw_picture(spec, DEMO_SIZE), draw_picture(spec, size), False, \
            {"colour": colour, "shape": shape, "position": position}
    # No type=[...]: Streamlit would raise on a crafted client's other extension; core refuses it with a message.
    uploaded = st.file_uploader(f"A PNG or JPEG picture (at most {uploads.MAX_UPLOAD_BYTES // 2**20} MB, "
                                f"{uploads.MAX_UPLOAD_PIXELS / 1e6:.0f} megapixels and "
                                f"{uploads.MAX_ASPECT_RATIO}:1)", key="upload")
    if uploaded is None:
        st.info("Upload a picture, or switch to *draw one*. Tip: a single coloured shape on a white background is "
                "what this tiny model knows; a photo of a cat is far outside its world.")
        return None, None, False, None
    st.text(f"Your file: {uploaded.name[:200]}")  # plain text: a file name is the uploader's, never markdown
    try:
        uploads.check_name(uploaded.name)
    except ValueError as err:
        st.error(str(err))
        return None, None, False, None
    with ui.heavy("Reading your picture"):
        image, refusal = _decoded(uploaded.getvalue())
    if refusal:
        st.error(refusal)
        return None, None, False, None
    return uploads.to_model_picture(image, DEMO_SIZE), uploads.to_model_picture(image, size), True, None


def zero_shot_section(picture: np.ndarray, small: np.ndarray, uploaded: bool, truth: dict | None) -> None:
    st.header("2 · Zero-shot classification")
    ui.explain(
        "No classifier was ever trained. Write one prompt per label (*a photo of a red circle*, ...), embed "
        "them with the text tower, and pick the prompt most similar to the picture: the label set is chosen "
        "at test time, which is why CLIP calls it *zero-shot*.")
    labels = st.radio("Labels", tiny_clip.LABEL_SETS, key="labels", horizontal=True,
                      format_func=lambda s: f"{s} ({len(tiny_clip.label_set(s))} prompts)")
    with ui.heavy("Classifying"):
        if not uploaded:
            s = st.session_state
            res = _zero_shot_generated(s["shape"], s["colour"], s["position"], s["seed"], labels)
        else:
            res = _zero_shot_upload(small, labels)
    prep = _prep()
    c1, c2, c3 = st.columns([1, 1, 2])
    c1.image(upscale(picture, 192), caption="the picture", width="stretch")
    c2.image(upscale(small, 192), caption=f"what the model sees: {prep.image_size}×{prep.image_size}", width="stretch")
    names = [" ".join(x for x in lab if x) for lab in res.labels]
    right = " ".join([truth["colour"], truth["shape"]] + ([truth["position"]] if labels == tiny_clip.LABEL_SETS[1] else [])) \
        if truth else None
    best = int(np.argmax(res.probs))
    ui.chart(charts.probability_bars, names, res.probs, "top 10 prompts", highlight=right, on=c3)
    verdict = "" if truth is None else (" :material/check_circle: correct" if names[best] == right else f" :material/cancel: the truth is *{right}*")
    st.markdown(f"Prediction: **{res.prompts[best]}** (p = {res.probs[best]:.2f}){verdict}")
    ui.chart(charts.marginal_bars, res.marginals, truth)
    st.caption("Each attribute's bars add up the probabilities of the prompts that mention it. "
               + ("Truth in orange. " if truth else "An upload is squeezed into the model's world: padded to a "
                  "square with white, shrunk to 32×32; anything but a flat shape on white is out of distribution "
                  "and the probabilities then mean little. ")
               + f"Accuracy of the bundled model on held-out pictures: {_accuracy_line()}")
    if st.toggle("Write your own prompts", key="own_prompts"):
        own_prompts_ui(small)
    ui.code_behind(tiny_clip.zero_shot, tiny_clip.preprocess, uploads.to_model_picture, uploads.check_header,
                   uploads.load_upload)


def own_prompts_ui(small: np.ndarray) -> None:
    text = st.text_area(f"One prompt a line (at most {MAX_PROMPTS} lines of {MAX_PROMPT_CHARS} characters)",
                        key="prompts", max_chars=MAX_PROMPTS * (MAX_PROMPT_CHARS + 1))
    text = text[: MAX_PROMPTS * (MAX_PROMPT_CHARS + 1)]  # the widget's limit, also for a crafted client
    prompts = tuple(dict.fromkeys(line.strip()[:MAX_PROMPT_CHARS] for line in text.splitlines() if line.strip()))
    if len(prompts) < 2:
        st.info("Write at least two different prompts: zero-shot picks the most similar one.")
        return
    prompts = prompts[:MAX_PROMPTS]
    with ui.heavy("Classifying with your prompts"):
        probs = _zero_shot_prompts(small, prompts)
    ui.chart(charts.probability_bars, list(prompts), probs, "your prompts", top=MAX_PROMPTS)
    best = int(np.argmax(probs))
    st.text(f"Your prompts' winner: {prompts[best]} (p = {probs[best]:.2f})")  # plain text: the learner's words
    st.caption("The model only ever read captions built from 4 shapes, 6 colours and 5 positions: words outside "
               "that world (a cat, a drawing) map to tokens it has seen in no caption, so their scores mean little. "
               "Try rewording a prompt the way the training captions were written.")


@st.cache_data(max_entries=1, max_size="1MB", show_spinner=False)
def _accuracy_line() -> str:
    import json

    path = models.MODELS_DIR / "clip_report.json"
    if not path.exists():
        return "no build report found."
    zs = json.loads(path.read_text())["zero_shot"]
    return (f"{zs['accuracy']:.1%} over the {zs['n_labels']} colour + shape prompts on {zs['n']:,} pictures "
            f"(colour {zs['colour_accuracy']:.1%}, shape {zs['shape_accuracy']:.1%}), measured at build time "
            "(assets/models/clip_report.json).")


def patches_section(picture: np.ndarray, small: np.ndarray) -> None:
    st.header("3 · A picture is a sentence of patches (ViT)")
    ui.explain(
        "A Vision Transformer does not look at pixels one by one. It cuts the picture into P×P patches, reads "
        "them row by row like words, flattens each into P·P·3 numbers and multiplies by one matrix E to get a "
        "token of C numbers. A learned position embedding says where each patch came from; a [CLS] token is "
        "prepended and its final state is the picture's summary.")
    P = st.select_slider("Patch size P (pixels)", PATCH_SIZES, key="patch")
    H = W = picture.shape[0]
    N = (H // P) * (W // P)
    patches = vit.patchify(picture, P)  # (N, P, P, 3)
    c1, c2 = st.columns(2)
    c1.image(vit.grid_picture(picture, P, scale=3), caption=f"{H}×{W} picture, {H // P}×{W // P} grid of patches",
             width=288)
    ui.chart(charts.token_count_chart, H, list(PATCH_SIZES), P, on=c2)
    per_row = min(N, 36)  # a strip about 680 pixels wide, each patch as large as fits
    scale = max(1, int((680 / per_row - 2) // P))
    st.image(vit.patch_sequence(patches, per_row, scale=scale),
             caption=f"the same picture as a sequence of {N} tokens, read left to right, top to bottom")
    st.latex(rf"N = \frac{{H}}{{P}}\cdot\frac{{W}}{{P}} = \frac{{{H}}}{{{P}}}\cdot\frac{{{W}}}{{{P}}} = {N}"
             rf"\ \text{{tokens}}, \quad \text{{each }} P^2\cdot 3 = {P * P * 3}\ \text{{numbers}}")
    st.latex(r"z_0 = [\,x_{\mathrm{class}};\ x_p^1 E;\ x_p^2 E;\ \dots;\ x_p^N E\,] + E_{\mathrm{pos}},"
             r"\qquad E \in \mathbb{R}^{(P^2\cdot 3)\times C}")
    st.markdown(f"{N} tokens means {N + 1}² = {(N + 1) ** 2:,} attention scores per head and layer: halving P "
                "multiplies the tokens by 4 and the attention cost by 16. That is why ViTs use P = 14 to 32 at "
                "224 pixels (ViT-B/16: 14×14 = 196 tokens) and why high-resolution models tile their input.")
    model, _ = ui.clip()
    vcfg = model.config.vision_config
    as_conv, as_linear = vit.patch_embeddings(model, tiny_clip.preprocess(small, _prep()))
    diff = (as_conv - as_linear).abs().max().item()
    n_model = (vcfg.image_size // vcfg.patch_size) ** 2
    st.markdown(
        f"**The tiny CLIP** reads {vcfg.image_size}×{vcfg.image_size} pictures with P = {vcfg.patch_size}: "
        f"{n_model} patch tokens + [CLS], each {vcfg.patch_size ** 2 * 3} numbers projected to C = {vcfg.hidden_size}. "
        f"Its `Conv2d(3, {vcfg.hidden_size}, kernel={vcfg.patch_size}, stride={vcfg.patch_size})` *is* that "
        f"matrix E: flattening each patch of this picture and multiplying by the conv weights gives "
        f"{tuple(as_linear.shape)} token vectors equal to the conv output up to **{diff:.1e}** (float32 rounding).")
    st.caption("Reassembling the patches gives back the picture exactly: "
               f"{'yes ✓' if np.array_equal(vit.unpatchify(patches, H, W), picture) else 'NO ✗'} (checked just now).")
    ui.code_behind(vit.patchify, vit.unpatchify, vit.patch_embeddings)


def train_section() -> None:
    st.header("5 · Train a tiny CLIP yourself, live")
    train_clip.render()


# ---- the page ------------------------------------------------------------------------------
st.title(":material/image: Multimodal")
ui.explain(
    "How do models read pictures? A Vision Transformer turns a picture into a sequence of patch tokens; CLIP trains "
    "a picture encoder and a text encoder together until matching pictures and captions point the same way; "
    "LLaVA feeds those picture tokens to a language model. Everything here runs on a **tiny CLIP trained in this "
    "repository** (about half a million parameters, about 5.5 minutes on the 2-core build machine (clip_report.json)) on synthetic pictures: "
    "4 shapes × 6 colours × 5 positions, drawn in code.")
ui.bind_params(PARAMS)

if ui.require_model("tiny-clip"):
    similarity_section()
    st.divider()
    picture, small, uploaded, truth = picture_ui()
    if picture is not None:
        zero_shot_section(picture, small, uploaded, truth)
        st.divider()
        patches_section(picture, small)
        st.divider()
        st.header("4 · From image features to an LLM (LLaVA)")
        llava_ui.render(small, truth)
    st.divider()
    train_section()

st.header("The math")
st.markdown("For a batch of B pairs with unit-length picture embeddings I and caption embeddings T (rows), "
            "CLIP's loss is cross-entropy in both directions over the scaled cosine similarities, with a learned "
            "temperature t:")
st.latex(r"L = \frac{1}{2B}\sum_{i=1}^{B}\left[-\log\frac{e^{\,e^t\, I_i\cdot T_i}}{\sum_{j} e^{\,e^t\, I_i\cdot T_j}}"
         r" - \log\frac{e^{\,e^t\, I_i\cdot T_i}}{\sum_{j} e^{\,e^t\, I_j\cdot T_i}}\right]")
st.markdown("Zero-shot classification is the first term with the captions replaced by one prompt per label: "
            "p(label k | picture) = softmax over k of exp(t)·I·T_k. With random weights every logit is about the "
            "same and L ≈ ln B; a perfect model drives it towards 0.")
ui.papers(
    ("Learning Transferable Visual Models From Natural Language Supervision: CLIP (Radford et al. 2021)",
     "https://arxiv.org/abs/2103.00020"),
    ("An Image is Worth 16x16 Words: ViT (Dosovitskiy et al. 2020)", "https://arxiv.org/abs/2010.11929"),
    ("Visual Instruction Tuning: LLaVA (Liu et al. 2023)", "https://arxiv.org/abs/2304.08485"),
    ("Improved Baselines with Visual Instruction Tuning: LLaVA-1.5 (Liu et al. 2023)", "https://arxiv.org/abs/2310.03744"),
    ("Representation Learning with Contrastive Predictive Coding: InfoNCE (van den Oord et al. 2018)",
     "https://arxiv.org/abs/1807.03748"),
    ("Mind the Gap: the modality gap in contrastive models (Liang et al. 2022)", "https://arxiv.org/abs/2203.02053"),
)
ui.sync_params(PARAMS)

ui.quiz("Multimodal")
