"""Learning curves as a PNG, drawn with Pillow (a core dependency; matplotlib is not one).

One line per strategy (the mean over seeds), a faint band from the worst to the best seed,
and a dashed line at the target accuracy (``target`` x the mean full-pool accuracy).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from assay.active.strategies import DEFAULT

if TYPE_CHECKING:
    from assay.active.simulate import SimulationResult

WIDTH, HEIGHT = 960, 600
LEFT, RIGHT, TOP, BOTTOM = 80, 220, 56, 64
COLORS = {
    "random": (110, 110, 110),
    "least-confidence": (31, 119, 180),
    "margin": (214, 39, 40),
    "entropy": (255, 127, 14),
    "diverse": (44, 160, 44),
    "kcenter": (148, 103, 189),
    "cold-start": (140, 86, 75),
    "auto": (227, 119, 194),
}
OTHER = (23, 190, 207)
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def plot_curves(result: SimulationResult, path: str | os.PathLike[str], *, title: str = "") -> None:
    """Write the learning curves of ``result`` to ``path`` (PNG)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    font = ImageFont.load_default(size=14)
    xs = [n for c in result.curves for n in c.n_labels]
    ys = [a for c in result.curves for a in c.accuracy]
    target = result.target * float(np.mean(list(result.full_pool_accuracy.values())))
    full = float(np.mean(list(result.full_pool_accuracy.values())))
    frame = _Frame(min(xs), max(xs), max(0.0, min(ys) - 0.02), min(1.0, max(*ys, full) + 0.02))
    _axes(draw, frame, font)
    _hline(draw, frame, target, f"{result.target:.0%} of full pool", font)
    _hline(draw, frame, full, "full pool", font)
    for k, strategy in enumerate(result.strategies):
        _strategy(draw, frame, result, strategy, COLORS.get(strategy, OTHER), k, font)
    heading = (
        title or f"Active learning on {result.layer!r}: {result.model}, {len(result.seeds)} seeds"
    )
    draw.text((LEFT, 8), heading, fill="black", font=ImageFont.load_default(size=18))
    image.save(path, format="PNG")


class _Frame:
    """Maps data coordinates (labels, accuracy) to pixels."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1 = x0, max(x1, x0 + 1)
        self.y0, self.y1 = y0, max(y1, y0 + 1e-6)

    def px(self, x: float, y: float) -> tuple[float, float]:
        u = LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
        v = HEIGHT - BOTTOM - (y - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)
        return u, v


def _axes(draw: ImageDraw.ImageDraw, f: _Frame, font: Font) -> None:
    x_end, y_end = WIDTH - RIGHT, HEIGHT - BOTTOM
    for x in _ticks(f.x0, f.x1):
        u, _ = f.px(x, f.y0)
        draw.line([(u, TOP), (u, y_end)], fill=(235, 235, 235))
        draw.text((u, y_end + 8), f"{x:g}", fill="black", font=font, anchor="mt")
    for y in _ticks(f.y0, f.y1, n=10):
        _, v = f.px(f.x0, y)
        draw.line([(LEFT, v), (x_end, v)], fill=(235, 235, 235))
        draw.text((LEFT - 8, v), f"{y:.2f}", fill="black", font=font, anchor="rm")
    draw.rectangle([LEFT, TOP, x_end, y_end], outline="black")
    draw.text(((LEFT + x_end) / 2, HEIGHT - 22), "labels", fill="black", font=font, anchor="mm")
    draw.text((16, TOP - 18), "held-out accuracy", fill="black", font=font)


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    step = float(10 ** np.floor(np.log10((hi - lo) / n)))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    start = np.ceil(lo / step) * step
    return [float(v) for v in np.arange(start, hi + step * 1e-9, step)]


def _hline(draw: ImageDraw.ImageDraw, f: _Frame, y: float, label: str, font: Font) -> None:
    _, v = f.px(f.x0, y)
    for u in range(LEFT, WIDTH - RIGHT, 12):
        draw.line([(u, v), (min(u + 6, WIDTH - RIGHT), v)], fill=(60, 60, 60), width=1)
    draw.text((WIDTH - RIGHT + 6, v), label, fill=(60, 60, 60), font=font, anchor="lm")


def _strategy(
    draw: ImageDraw.ImageDraw,
    f: _Frame,
    result: SimulationResult,
    strategy: str,
    color: tuple[int, int, int],
    k: int,
    font: Font,
) -> None:
    xs, mean = result.mean_curve(strategy)
    runs = np.array([c.accuracy[: len(xs)] for c in result.curves if c.strategy == strategy])
    if len(runs) > 1:
        band = [f.px(x, y) for x, y in zip(xs, runs.max(axis=0), strict=True)]
        band += [f.px(x, y) for x, y in reversed(list(zip(xs, runs.min(axis=0), strict=True)))]
        draw.polygon(band, fill=(*color, 40))
    points = [f.px(x, y) for x, y in zip(xs, mean, strict=True)]
    draw.line(points, fill=color, width=3)
    median = result.median_labels_to_target(strategy)
    name = f"{strategy} (auto)" if strategy == DEFAULT else strategy
    label = f"{name}: {median:g}" if median is not None else f"{name}: not reached"
    y = TOP + 110 + 22 * k
    draw.line([(WIDTH - RIGHT + 8, y), (WIDTH - RIGHT + 30, y)], fill=color, width=3)
    draw.text((WIDTH - RIGHT + 36, y), label, fill="black", font=font, anchor="lm")
    if k == 0:
        draw.text((WIDTH - RIGHT + 8, TOP + 84), "labels to target:", fill="black", font=font)
