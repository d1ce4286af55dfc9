"""The offline world's renderer: deterministic images drawn from a concept's structured attributes.

A concept is a silhouette (`shape`) filled with a `body` colour, overlaid with an `accent`-coloured
`pattern` and one distinctive `detail`. Twins share most of these and differ in one or two, so they
look alike. Each image adds nuisance variation (pose, scale, position, background, clutter, noise)
from its seed alone: same seed, same pixels. A controlled experiment, not a photograph.
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cultureclip.backends.image.base import RenderRequest

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 35),
    "orange": (235, 130, 30),
    "yellow": (240, 215, 50),
    "gold": (200, 160, 40),
    "green": (40, 140, 60),
    "teal": (20, 140, 140),
    "blue": (40, 90, 210),
    "navy": (20, 30, 100),
    "purple": (120, 50, 160),
    "pink": (235, 130, 170),
    "white": (245, 245, 240),
    "cream": (240, 225, 190),
    "brown": (120, 70, 35),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
    "beige": (205, 185, 150),
}
PATTERNS = ("plain", "stripes", "dots", "checks", "zigzag", "waves", "grid", "diamonds")
DETAILS = ("none", "border", "band", "cap", "tassel", "rim", "spikes", "ring", "cross", "fringe")

# Silhouettes as primitives in a unit box (x right, y down); "hole" primitives cut the mask.
_SHAPES: dict[str, list[tuple]] = {
    "crescent": [("chord", (0.05, 0.2, 0.95, 1.2), 180, 360)],
    "disc": [("ellipse", (0.08, 0.08, 0.92, 0.92))],
    "bowl": [("chord", (0.05, -0.25, 0.95, 0.85), 0, 180), ("rect", (0.38, 0.8, 0.62, 0.92))],
    "triangle": [("poly", [(0.5, 0.08), (0.92, 0.88), (0.08, 0.88)])],
    "robe": [
        (
            "poly",
            [
                (0.36, 0.08),
                (0.64, 0.08),
                (0.96, 0.3),
                (0.86, 0.43),
                (0.68, 0.34),
                (0.84, 0.95),
                (0.16, 0.95),
                (0.32, 0.34),
                (0.14, 0.43),
                (0.04, 0.3),
            ],
        )
    ],
    "tunic": [
        (
            "poly",
            [
                (0.3, 0.1),
                (0.7, 0.1),
                (0.94, 0.24),
                (0.86, 0.38),
                (0.7, 0.3),
                (0.7, 0.9),
                (0.3, 0.9),
                (0.3, 0.3),
                (0.14, 0.38),
                (0.06, 0.24),
            ],
        )
    ],
    "cone": [("poly", [(0.5, 0.22), (0.97, 0.64), (0.03, 0.64)]), ("ellipse", (0.03, 0.57, 0.97, 0.72))],
    "hat": [("ellipse", (0.02, 0.56, 0.98, 0.8)), ("rect", (0.3, 0.2, 0.7, 0.68))],
    "tower": [("poly", [(0.5, 0.02), (0.54, 0.18), (0.46, 0.18)])]
    + [
        ("poly", [(0.5 - w, y), (0.5 + w, y), (0.5 + w + 0.08, y + 0.17), (0.5 - w - 0.08, y + 0.17)])
        for w, y in ((0.1, 0.18), (0.16, 0.38), (0.22, 0.58), (0.28, 0.78))
    ],
    "dome": [
        ("chord", (0.15, 0.25, 0.85, 0.95), 180, 360),
        ("rect", (0.08, 0.6, 0.92, 0.8)),
        ("poly", [(0.45, 0.06), (0.55, 0.06), (0.56, 0.3), (0.44, 0.3)]),
    ],
    "gate": [
        ("rect", (0.18, 0.2, 0.3, 0.95)),
        ("rect", (0.7, 0.2, 0.82, 0.95)),
        ("rect", (0.04, 0.1, 0.96, 0.21)),
        ("rect", (0.12, 0.32, 0.88, 0.39)),
    ],
    "yurt": [("chord", (0.05, 0.15, 0.95, 0.75), 180, 360), ("rect", (0.1, 0.44, 0.9, 0.88))],
    "lute": [("ellipse", (0.08, 0.42, 0.62, 0.96)), ("poly", [(0.44, 0.46), (0.86, 0.04), (0.94, 0.12), (0.52, 0.54)])],
    "fiddle": [
        ("rect", (0.38, 0.74, 0.62, 0.94)),
        ("rect", (0.46, 0.04, 0.54, 0.8)),
        ("poly", [(0.15, 0.35), (0.9, 0.6), (0.88, 0.64), (0.13, 0.39)]),
    ],
    "zither": [("poly", [(0.04, 0.38), (0.96, 0.26), (0.96, 0.48), (0.04, 0.66)])],
    "drum": [("poly", [(0.2, 0.08), (0.8, 0.08), (0.62, 0.55), (0.7, 0.95), (0.3, 0.95), (0.38, 0.55)])],
    "flute": [("rect", (0.04, 0.4, 0.96, 0.6))],
    "vase": [("ellipse", (0.2, 0.35, 0.8, 0.95)), ("rect", (0.4, 0.1, 0.6, 0.45)), ("rect", (0.32, 0.06, 0.68, 0.13))],
    "rug": [("rect", (0.1, 0.2, 0.9, 0.8))],
    "lantern": [
        ("ellipse", (0.15, 0.18, 0.85, 0.86)),
        ("rect", (0.34, 0.1, 0.66, 0.2)),
        ("rect", (0.34, 0.84, 0.66, 0.94)),
    ],
    "lamp": [("chord", (0.08, 0.3, 0.92, 0.85), 0, 180), ("poly", [(0.5, 0.1), (0.6, 0.55), (0.4, 0.55)])],
    "mask": [("ellipse", (0.2, 0.05, 0.8, 0.95)), ("hole", (0.3, 0.3, 0.45, 0.42)), ("hole", (0.55, 0.3, 0.7, 0.42))],
    "shoe": [("poly", [(0.04, 0.56), (0.45, 0.5), (0.58, 0.28), (0.8, 0.28), (0.96, 0.6), (0.96, 0.8), (0.04, 0.8)])],
    "boat": [
        ("poly", [(0.02, 0.52), (0.98, 0.52), (0.8, 0.82), (0.2, 0.82)]),
        ("poly", [(0.5, 0.06), (0.5, 0.5), (0.82, 0.5)]),
    ],
    "fan": [("pieslice", (0.04, 0.12, 0.96, 1.04), 200, 340), ("rect", (0.47, 0.55, 0.53, 0.95))],
    "kite": [("poly", [(0.5, 0.04), (0.86, 0.4), (0.5, 0.96), (0.14, 0.4)])],
}
SHAPES = tuple(_SHAPES)


def drawn_look(attributes: dict[str, str]) -> tuple[str, ...]:
    """The attributes as the renderer draws them: the accent colour shows only through a pattern or a
    detail, so two looks that differ only in an undrawn accent render identically."""
    shows_accent = attributes["pattern"] != "plain" or attributes["detail"] != "none"
    accent = attributes["accent"] if shows_accent else "-"
    return (attributes["shape"], attributes["body"], accent, attributes["pattern"], attributes["detail"])


_BACKGROUNDS = [
    (180, 180, 170),
    (150, 170, 160),
    (170, 160, 150),
    (120, 130, 140),
    (200, 195, 185),
    (100, 110, 100),
    (160, 150, 170),
    (140, 120, 110),
    (90, 90, 95),
    (210, 205, 195),
]
_SUPERSAMPLE = 4


class ProceduralRenderer:
    """Draws each request from its `attributes` (shape, body, accent, pattern, detail) and its seed."""

    def __init__(self, image_size: int = 64):
        self.image_size = image_size

    def render(self, requests: list[RenderRequest]) -> list[Image.Image]:
        return [self.render_one(r.attributes, r.seed) for r in requests]

    def render_one(self, attributes: dict[str, str], seed: int) -> Image.Image:
        rng = np.random.default_rng(seed)
        size = self.image_size * _SUPERSAMPLE
        canvas = _background(rng, size)
        scale = rng.uniform(0.6, 0.9) * size
        cx, cy = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
        box = (cx - scale / 2, cy - scale / 2, cx + scale / 2, cy + scale / 2)
        obj, alpha = _draw_object(attributes, box, size, rng)
        angle = rng.uniform(-20, 20)
        obj = obj.rotate(angle, resample=Image.BICUBIC, center=(cx, cy))
        alpha = alpha.rotate(angle, resample=Image.BICUBIC, center=(cx, cy))
        if rng.random() < 0.5:
            obj, alpha = obj.transpose(Image.FLIP_LEFT_RIGHT), alpha.transpose(Image.FLIP_LEFT_RIGHT)
        canvas.paste(obj, (0, 0), alpha)
        small = canvas.resize((self.image_size, self.image_size), Image.LANCZOS)
        pixels = np.asarray(small, dtype=np.float32) * rng.uniform(0.9, 1.1)
        pixels += rng.normal(0, 6, pixels.shape)
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _jitter(rng: np.random.Generator, rgb: tuple[int, int, int], amount: int = 12) -> tuple[int, ...]:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in rgb)


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    top = np.array(_jitter(rng, _BACKGROUNDS[rng.integers(len(_BACKGROUNDS))], 20), dtype=np.float32)
    bottom = np.array(_jitter(rng, _BACKGROUNDS[rng.integers(len(_BACKGROUNDS))], 20), dtype=np.float32)
    ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (size, size, 3))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(0, 3)):  # faint clutter
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.05, 0.15) * size
        draw.ellipse((x - r, y - r, x + r, y + r), fill=_jitter(rng, tuple(int(c) for c in top), 30))
    return image


def _draw_object(attributes: dict[str, str], box: tuple, size: int, rng: np.random.Generator):
    body = _jitter(rng, COLORS[attributes["body"]])
    accent = _jitter(rng, COLORS[attributes["accent"]])
    mask = _shape_mask(attributes["shape"], box, size)
    obj = Image.new("RGB", (size, size), body)
    pattern = _pattern_mask(attributes["pattern"], box, size)
    obj.paste(accent, (0, 0), _intersect(pattern, mask))
    detail, clip = _detail_mask(attributes["detail"], box, size, mask)
    obj.paste(accent, (0, 0), _intersect(detail, mask) if clip else detail)
    alpha = mask if clip else Image.fromarray(np.maximum(np.asarray(mask), np.asarray(detail)))
    return obj, alpha


def _intersect(a: Image.Image, b: Image.Image) -> Image.Image:
    return Image.fromarray(np.minimum(np.asarray(a), np.asarray(b)))


def _to_px(box: tuple, x: float, y: float) -> tuple[float, float]:
    x0, y0, x1, y1 = box
    return x0 + x * (x1 - x0), y0 + y * (y1 - y0)


def _shape_mask(shape: str, box: tuple, size: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    for kind, coords, *angles in _SHAPES[shape]:
        if kind == "poly":
            draw.polygon([_to_px(box, x, y) for x, y in coords], fill=255)
            continue
        rect = (*_to_px(box, coords[0], coords[1]), *_to_px(box, coords[2], coords[3]))
        if kind == "rect":
            draw.rectangle(rect, fill=255)
        elif kind == "ellipse":
            draw.ellipse(rect, fill=255)
        elif kind == "hole":
            draw.ellipse(rect, fill=0)
        else:  # chord / pieslice
            getattr(draw, kind)(rect, angles[0], angles[1], fill=255)
    return mask


def _pattern_mask(pattern: str, box: tuple, size: int) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    period = max(4, int((box[2] - box[0]) / 5))
    width = max(2, period // 3)
    steps = range(-period, size + period, period)
    if pattern == "stripes":
        for y in steps:
            draw.rectangle((0, y, size, y + width), fill=255)
    elif pattern == "dots":
        for i, y in enumerate(steps):
            for x in steps:
                ox = x + (period // 2) * (i % 2)
                draw.ellipse((ox - width, y - width, ox + width, y + width), fill=255)
    elif pattern == "checks":
        half = period // 2
        for i, y in enumerate(range(-period, size + period, half)):
            for j, x in enumerate(range(-period, size + period, half)):
                if (i + j) % 2:
                    draw.rectangle((x, y, x + half, y + half), fill=255)
    elif pattern == "grid":
        for t in steps:
            draw.line((0, t, size, t), fill=255, width=max(1, width // 2))
            draw.line((t, 0, t, size), fill=255, width=max(1, width // 2))
    elif pattern == "zigzag":
        for y in steps:
            points = [
                (x, y + (period // 2 if k % 2 else 0)) for k, x in enumerate(range(-period, size + period, period // 2))
            ]
            draw.line(points, fill=255, width=width)
    elif pattern == "waves":
        xs = np.arange(0, size + 1, 2)
        for y in steps:
            points = [(float(x), y + period / 4 * math.sin(2 * math.pi * x / period)) for x in xs]
            draw.line(points, fill=255, width=width)
    elif pattern == "diamonds":
        half = period / 2
        for y in steps:
            for x in steps:
                draw.polygon(
                    [(x, y - half / 1.5), (x + half / 1.5, y), (x, y + half / 1.5), (x - half / 1.5, y)], fill=255
                )
    return mask


def _detail_mask(detail: str, box: tuple, size: int, shape: Image.Image) -> tuple[Image.Image, bool]:
    """The detail's mask, and whether it is clipped to the silhouette (True) or drawn outside it."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    x0, y0, x1, y1 = shape.getbbox()
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    thick = max(3, int(0.07 * w))
    if detail == "border":
        inner = shape.filter(ImageFilter.MinFilter(2 * (thick // 2) + 1))
        return Image.fromarray(np.where(np.asarray(inner) > 0, 0, np.asarray(shape)).astype(np.uint8)), True
    if detail == "band":
        draw.rectangle((x0, y0 + 0.45 * h, x1, y0 + 0.45 * h + 1.6 * thick), fill=255)
    elif detail == "rim":
        draw.rectangle((x0, y0, x1, y0 + 0.16 * h), fill=255)
    elif detail == "ring":
        r = 0.2 * min(w, h)
        cy = (y0 + y1) / 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=thick)
    elif detail == "cross":
        cy = (y0 + y1) / 2
        r = 0.18 * min(w, h)
        draw.rectangle((cx - r, cy - thick / 2, cx + r, cy + thick / 2), fill=255)
        draw.rectangle((cx - thick / 2, cy - r, cx + thick / 2, cy + r), fill=255)
    elif detail == "spikes":
        tops = _column_tops(shape, x0, x1, max(6, int(w / 8)))
        for x, y in tops:
            draw.polygon([(x - 0.04 * w, y + 2), (x, y - 0.1 * h), (x + 0.04 * w, y + 2)], fill=255)
        return mask, False
    elif detail == "cap":
        r = 0.08 * w
        draw.ellipse((cx - r, y0 - 1.6 * r, cx + r, y0 + 0.4 * r), fill=255)
        return mask, False
    elif detail == "tassel":
        draw.line((cx, y1 - 2, cx, y1 + 0.14 * h), fill=255, width=thick)
        r = 0.05 * w
        draw.ellipse((cx - r, y1 + 0.14 * h - r, cx + r, y1 + 0.14 * h + r), fill=255)
        return mask, False
    elif detail == "fringe":
        for x in np.linspace(x0 + 0.05 * w, x1 - 0.05 * w, 9):
            draw.line((x, y1 - 2, x, y1 + 0.1 * h), fill=255, width=max(2, thick // 2))
        return mask, False
    return mask, True


def _column_tops(shape: Image.Image, x0: int, x1: int, count: int) -> list[tuple[float, float]]:
    pixels = np.asarray(shape)
    tops = []
    for x in np.linspace(x0 + 2, x1 - 2, count).astype(int):
        rows = pixels[:, x].nonzero()[0]
        if len(rows):
            tops.append((float(x), float(rows.min())))
    return tops


def create(ref: str, image_size: int, options: object) -> ProceduralRenderer:
    """procedural: the offline world's renderer (it takes no ref and no options)."""
    return ProceduralRenderer(image_size)
