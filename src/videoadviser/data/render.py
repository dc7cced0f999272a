"""Render a synthetic talking-face clip whose expression carries a sentiment value.

A cartoon face (head, eyes, brows, mouth) drawn with anti-aliased distance fields in numpy.
Over the clip the head drifts and bobs, the light changes direction, the eyes may blink, and the
expression moves from neutral to the target valence ``v`` in [-1, 1]: the mouth corners curve up
(smile) for ``v > 0`` and down (frown) for ``v < 0``, and the brows tilt with it. Gaussian pixel
noise is added last. Identity (sizes, colours, background) comes from a per-speaker
:class:`FaceIdentity`, so clips of one speaker look alike and speakers differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The default speakers' frame sizes (width, height) and rates: small, portrait included.
FRAME_SIZES: tuple[tuple[int, int], ...] = ((64, 64), (80, 64), (96, 72), (72, 96))
FRAME_RATES: tuple[int, ...] = (12, 15, 24, 25, 30)


@dataclass(frozen=True)
class FaceIdentity:
    """A speaker's look and recording set-up."""

    width: int
    height: int
    fps: int
    skin: tuple[float, float, float]
    background: tuple[float, float, float]
    head_scale: float  # head radius as a share of the frame's shorter side
    mouth_width: float  # as a share of the head radius
    eye_gap: float  # half distance between the eyes, as a share of the head radius

    @staticmethod
    def sample(
        rng: np.random.Generator,
        sizes: Sequence[tuple[int, int]] = FRAME_SIZES,
        rates: Sequence[int] = FRAME_RATES,
    ) -> FaceIdentity:
        """A random speaker whose frame size (width, height) and rate come from the choices."""
        width, height = sizes[rng.integers(len(sizes))]
        tone = rng.uniform(0.35, 0.95)
        skin = (tone, tone * rng.uniform(0.72, 0.85), tone * rng.uniform(0.55, 0.7))
        background = tuple(float(x) for x in rng.uniform(0.05, 0.9, size=3))
        return FaceIdentity(
            width=int(width),
            height=int(height),
            fps=int(rng.choice(list(rates))),
            skin=tuple(float(x) for x in skin),  # type: ignore[arg-type]
            background=background,  # type: ignore[arg-type]
            head_scale=float(rng.uniform(0.36, 0.44)),
            mouth_width=float(rng.uniform(0.45, 0.6)),
            eye_gap=float(rng.uniform(0.33, 0.42)),
        )


def _smooth(distance: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased coverage: 1 inside (distance < 0), 0 outside, linear over ``width`` px."""
    return np.clip(0.5 - distance / width, 0.0, 1.0)


def _column(values: list[float]) -> np.ndarray:
    """Per-frame values as an ``(F, 1, 1)`` float32 array.

    Per-frame trigonometry is done with Python's ``math`` so that the result never depends on
    which SIMD path numpy picks for an array (that can change the last bit between runs).
    """
    return np.asarray(values, dtype=np.float32)[:, None, None]


def _paint(image: np.ndarray, coverage: np.ndarray, color: tuple[float, float, float]) -> None:
    """Blend ``color`` into ``image`` (F, H, W, 3) in place where ``coverage`` (F, H, W) > 0."""
    image += coverage[..., None] * (np.asarray(color, dtype=np.float32) - image)


def render_clip(
    identity: FaceIdentity, valence: float, num_frames: int, rng: np.random.Generator
) -> np.ndarray:
    """Render one clip.

    Args:
        identity: the speaker.
        valence: facial sentiment in [-1, 1] (-1 strong frown, 0 neutral, 1 broad smile).
        num_frames: frames to render.
        rng: randomness for motion, lighting, blinks and noise.

    Returns:
        ``(num_frames, height, width, 3)`` uint8 RGB.
    """
    h, w = identity.height, identity.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy[None], xx[None]  # (1, H, W)
    r = identity.head_scale * min(h, w)

    # Motion: a slow drift plus a bob, different phase per clip.
    phase = rng.uniform(0, 2 * np.pi)
    drift = rng.uniform(-0.08, 0.08, size=2) * min(h, w)
    times = [i / max(num_frames - 1, 1) for i in range(num_frames)]
    cx = _column(
        [
            w / 2 + drift[0] * (t - 0.5) * 2 + 0.04 * r * math.sin(2 * math.pi * t + phase)
            for t in times
        ]
    )
    cy = _column(
        [
            h / 2 + drift[1] * (t - 0.5) * 2 + 0.05 * r * math.sin(4 * math.pi * t + phase)
            for t in times
        ]
    )

    # Expression: neutral -> target over the onset, then held with a small tremor.
    onset = rng.uniform(0.2, 0.5)
    e = _column(
        [
            valence * min(t / onset, 1.0) * (1 + 0.05 * math.sin(6 * math.pi * t + phase))
            for t in times
        ]
    )

    image = np.empty((num_frames, h, w, 3), dtype=np.float32)
    image[:] = np.asarray(identity.background, dtype=np.float32)
    head = _smooth(np.sqrt(((xx - cx) / r) ** 2 + ((yy - cy) / (1.15 * r)) ** 2) * r - r, 1.2)
    _paint(image, head, identity.skin)

    # Eyes (closed for a couple of frames when blinking) and brows, painted dark in one pass.
    blink = np.zeros(num_frames, dtype=bool)
    if num_frames > 6 and rng.random() < 0.5:
        start = rng.integers(0, num_frames - 2)
        blink[start : start + 2] = True
    eye_ry = np.where(blink, 0.03, 0.11).astype(np.float32)[:, None, None] * r
    dark = np.zeros((num_frames, h, w), dtype=np.float32)
    for side in (-1, 1):
        ex, ey = cx + side * identity.eye_gap * r, cy - 0.25 * r
        d = np.sqrt(((xx - ex) / (0.09 * r)) ** 2 + ((yy - ey) / eye_ry) ** 2) - 1.0
        np.maximum(dark, _smooth(d * 0.09 * r, 1.0), out=dark)
        # Brows: inner ends rise for a frown (worried), the whole brow lifts for a smile.
        bx = xx - ex
        tilt = -side * 0.35 * np.minimum(e, 0.0)  # slope of the brow line
        by = ey - 0.28 * r - 0.08 * r * np.maximum(e, 0.0) + tilt * bx
        brow = _smooth(np.abs(yy - by) - 0.05 * r, 1.0) * _smooth(np.abs(bx) - 0.16 * r, 1.0)
        np.maximum(dark, brow, out=dark)
    _paint(image, dark, (0.08, 0.06, 0.06))

    # Mouth: a parabola whose corners rise by 0.22 r for valence 1 and fall for valence -1.
    half = identity.mouth_width * r / 2
    mx, my = cx, cy + 0.45 * r
    u = (xx - mx) / half
    curve = my - 0.22 * r * e * (u**2 - 0.5)
    mouth = _smooth(np.abs(yy - curve) - 0.06 * r, 1.0) * _smooth(np.abs(u) * half - half, 1.0)
    _paint(image, mouth, (0.45, 0.08, 0.1))

    # Lighting: a gradient whose direction turns during the clip, and an overall gain.
    angle0 = rng.uniform(0, 2 * np.pi)
    cos_a = _column([math.cos(angle0 + 0.6 * t) for t in times])
    sin_a = _column([math.sin(angle0 + 0.6 * t) for t in times])
    gradient = ((xx - w / 2) * cos_a + (yy - h / 2) * sin_a) / max(h, w)
    gain = rng.uniform(0.75, 1.2) * (1 + 0.35 * gradient)
    image *= gain[..., None]
    image += 0.025 * rng.standard_normal(size=image.shape, dtype=np.float32)
    return (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
