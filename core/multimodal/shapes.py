"""Synthetic pictures for the tiny CLIP: coloured shapes at a position, drawn in numpy from a seed.

A picture is described by a `Spec` (shape, colour, position, seed). The attributes say *what*
is drawn; the seed only moves the small jitter (size, offset, shade, background, pixel noise),
so the same spec always gives the same pixels, and a new seed gives a new instance of the same
thing. Shapes are drawn as masks on a supersampled grid in normalized coordinates and then
box-filtered down, so a picture can be drawn at any size (32×32 for the model, 96×96 for the
patch demo) with soft edges.

    >>> spec = Spec("circle", "red", "left", seed=7)
    >>> draw_pictures([spec], size=32).shape
    (1, 32, 32, 3)
    >>> caption(spec)
    'a red circle on the left'

The pictures and captions play the role of CLIP's 400M web image/alt-text pairs (Radford et
al. 2021, https://arxiv.org/abs/2103.00020), shrunk to a world of 4 shapes × 6 colours × 5
positions that a model of a few hundred thousand parameters can learn on a laptop CPU.
"""
from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {  # base RGB; each picture shifts every channel by up to ±SHADE_JITTER
    "red": (215, 35, 35),
    "green": (35, 160, 55),
    "blue": (40, 75, 215),
    "yellow": (235, 205, 35),
    "purple": (135, 50, 185),
    "orange": (245, 135, 25),
}
POSITIONS = {  # centre (x, y) in [0, 1] image coordinates, y pointing down
    "left": (0.27, 0.5),
    "right": (0.73, 0.5),
    "top": (0.5, 0.27),
    "bottom": (0.5, 0.73),
    "centre": (0.5, 0.5),
}
POSITION_PHRASES = {"left": "on the left", "right": "on the right", "top": "at the top",
                    "bottom": "at the bottom", "centre": "in the centre"}
# Caption templates: the position is sometimes left out, as real alt-text leaves things out.
# "a photo of a ..." is one of them, which is why it works as the zero-shot prompt (CLIP §3.1.4).
TEMPLATES = ("{a} {colour} {shape} {where}", "a photo of {a} {colour} {shape}",
             "a photo of {a} {colour} {shape} {where}", "{a} {colour} {shape}")

HELDOUT_SEED = 1_000_000  # training pictures use seeds below this; every demo and evaluation picture is above
SHADE_JITTER = 22  # ± per RGB channel
OFFSET_JITTER = 0.05  # ± in normalized units
RADIUS_RANGE = (0.14, 0.19)  # normalized "radius" of the shape
SUPERSAMPLE = 3  # masks are computed on a grid 3× finer, then averaged: soft edges


@dataclass(frozen=True)
class Spec:
    shape: str
    colour: str
    position: str
    seed: int = 0

    def __post_init__(self):
        if self.shape not in SHAPES or self.colour not in COLOURS or self.position not in POSITIONS:
            raise ValueError(f"unknown picture {self}; shapes {SHAPES}, colours {tuple(COLOURS)}, "
                             f"positions {tuple(POSITIONS)}")


def random_spec(seed: int) -> Spec:
    """A picture with attributes drawn from the seed: random_spec(3) -> Spec('cross', 'green', 'top', 3)."""
    rng = np.random.default_rng([seed, 1])  # its own stream: attributes independent of the jitter
    return Spec(SHAPES[rng.integers(len(SHAPES))], list(COLOURS)[rng.integers(len(COLOURS))],
                list(POSITIONS)[rng.integers(len(POSITIONS))], seed)


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption(spec: Spec, template: int = 0) -> str:
    """caption(Spec('square', 'orange', 'top')) -> 'an orange square at the top'."""
    return TEMPLATES[template].format(a=article(spec.colour), colour=spec.colour, shape=spec.shape,
                                      where=POSITION_PHRASES[spec.position])


def prompt(colour: str, shape: str, position: str | None = None) -> str:
    """The zero-shot prompt of a label, one of the training templates:
    prompt('red', 'circle') -> 'a photo of a red circle'."""
    template = TEMPLATES[1] if position is None else TEMPLATES[2]
    return template.format(a=article(colour), colour=colour, shape=shape, where=POSITION_PHRASES.get(position, ""))


def shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Boolean mask of a shape of radius r centred at the origin; dx (B, 1, S), dy (B, S, 1), r (B, 1, 1)."""
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":  # same area as the circle: side = r·√π
        half = 0.886 * r
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "triangle":  # pointing up, apex at -r, base at +0.75r
        height = 1.75 * r
        inside_y = (dy >= -r) & (dy <= 0.75 * r)
        half_width = 1.1 * r * (dy + r) / height  # widens linearly from the apex down to the base
        return inside_y & (np.abs(dx) <= half_width)
    if shape == "cross":  # a plus sign with arms of half-width 0.33r
        arm = 0.33 * r
        return ((np.abs(dx) <= arm) & (np.abs(dy) <= r)) | ((np.abs(dy) <= arm) & (np.abs(dx) <= r))
    raise ValueError(f"unknown shape {shape!r}")


def jitter(seed: int) -> dict:
    """The seed's small random changes: offset, radius, shade, background level."""
    rng = np.random.default_rng([seed, 0])
    return {"offset": rng.uniform(-OFFSET_JITTER, OFFSET_JITTER, size=2),
            "radius": rng.uniform(*RADIUS_RANGE),
            "shade": rng.integers(-SHADE_JITTER, SHADE_JITTER + 1, size=3),
            "background": rng.uniform(228, 252)}


def draw_pictures(specs: list[Spec], size: int = 32, chunk: int = 512) -> np.ndarray:
    """Render pictures -> (B, size, size, 3) uint8 RGB. Deterministic: same specs, same pixels."""
    if len(specs) > chunk:  # bounded memory: the supersampled masks are 9× the picture
        return np.concatenate([draw_pictures(specs[i : i + chunk], size, chunk) for i in range(0, len(specs), chunk)])
    B, S, k = len(specs), size, SUPERSAMPLE
    fine = ((np.arange(S * k) + 0.5) / (S * k)).astype(np.float32)  # pixel centres of the fine grid in [0, 1]
    jit = [jitter(s.seed) for s in specs]
    centre = np.array([np.add(POSITIONS[s.position], j["offset"]) for s, j in zip(specs, jit)], dtype=np.float32)  # (B, 2)
    radius = np.array([j["radius"] for j in jit], dtype=np.float32)  # (B,)
    masks = np.zeros((B, S * k, S * k), dtype=bool)
    for shape in SHAPES:
        rows = [i for i, s in enumerate(specs) if s.shape == shape]
        if rows:
            dx = fine[None, None, :] - centre[rows, 0, None, None]  # (b, 1, S·k)
            dy = fine[None, :, None] - centre[rows, 1, None, None]  # (b, S·k, 1)
            masks[rows] = shape_mask(shape, dx, dy, radius[rows, None, None])  # broadcasts to (b, S·k, S·k)
    coverage = masks.reshape(B, S, k, S, k).mean(axis=(2, 4))[..., None]  # (B, S, S, 1): soft edges
    fg = np.array([np.clip(np.add(COLOURS[s.colour], j["shade"]), 0, 255) for s, j in zip(specs, jit)], dtype=float)
    bg = np.array([j["background"] for j in jit])  # (B,)
    noise = np.stack([np.random.default_rng([s.seed, 2]).normal(0, 3, size=(S, S, 1)) for s in specs])  # (B, S, S, 1)
    pictures = coverage * fg[:, None, None, :] + (1 - coverage) * (bg[:, None, None, None] + noise)
    return np.clip(np.rint(pictures), 0, 255).astype(np.uint8)  # (B, S, S, 3)


def draw_picture(spec: Spec, size: int = 32) -> np.ndarray:
    """One picture -> (size, size, 3) uint8."""
    return draw_pictures([spec], size)[0]


def distinct_specs(n: int, seed: int) -> list[Spec]:
    """n held-out pictures with all-different (shape, colour, position), chosen by the seed: a batch whose
    only correct pairing is the diagonal."""
    rng = np.random.default_rng([seed, 3])
    combos = [(s, c, p) for s in SHAPES for c in COLOURS for p in POSITIONS]
    picks = rng.choice(len(combos), size=min(n, len(combos)), replace=False)
    return [Spec(*combos[i], seed=int(rng.integers(HELDOUT_SEED, 2**31))) for i in picks]


if __name__ == "__main__":
    for seed in range(5):
        spec = random_spec(seed)
        picture = draw_picture(spec)
        print(f"seed {seed}: {caption(spec)!r:40s} mean RGB {picture.reshape(-1, 3).mean(0).round(1)}")
