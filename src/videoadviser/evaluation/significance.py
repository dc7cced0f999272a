"""Is the distilled student better than the baseline?

Three views, each on the same test clips:

- :func:`paired_bootstrap`: resample clips (errors averaged over seeds first), the
  single-seed test;
- :func:`seed_clip_bootstrap_mae`: resample seeds *and* clips, so a difference that hinges on
  which seeds were run is not called significant;
- :func:`aso_epsilon_min`: Almost Stochastic Order over per-seed test MAE (``deepsig``, the
  test the paper used).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike


def paired_bootstrap(
    errors_a: ArrayLike, errors_b: ArrayLike, resamples: int = 10000, seed: int = 0
) -> dict[str, float]:
    """Paired bootstrap of the difference ``mean(a) - mean(b)`` over the same items.

    Args:
        errors_a, errors_b: ``(N,)`` per-item scores of two systems on the same N items: the
            absolute errors of two regressors on the same clips (for several seeds, average
            each clip's error over seeds first), or two retrieval models' per-query AP.
        resamples: bootstrap resamples of the N clips (with replacement).

    Returns:
        ``delta`` (observed difference; negative means a is better), a 95% interval
        ``ci_low``/``ci_high``, and ``p_value``: two-sided, twice the share of resamples on
        the far side of zero (at least 1/resamples).
    """
    a = np.asarray(errors_a, dtype=np.float64)
    b = np.asarray(errors_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("paired errors must be two non-empty vectors of equal length")
    diff = a - b
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 1000):
        stop = min(start + 1000, resamples)
        idx = rng.integers(0, diff.size, size=(stop - start, diff.size))
        means[start:stop] = diff[idx].mean(axis=1)
    return _summary(float(diff.mean()), means, resamples)


def seed_clip_bootstrap_mae(
    errors_a: ArrayLike, errors_b: ArrayLike, resamples: int = 10000, seed: int = 0
) -> dict[str, float]:
    """Two-level paired bootstrap of the MAE difference over seeds and clips.

    Args:
        errors_a, errors_b: ``(S, N)`` absolute errors of two systems, seed ``s`` of each on the
            same N clips (paired by seed: a distilled student and the baseline of one seed).
        resamples: each draws S seeds with replacement, then N clips with replacement, and
            averages ``a - b`` over the drawn (seed, clip) cells.

    Returns:
        As :func:`paired_bootstrap`, plus ``seeds``. With one seed this is the clip bootstrap.
    """
    a = np.asarray(errors_a, dtype=np.float64)
    b = np.asarray(errors_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError("errors must be two non-empty (seeds, clips) arrays of equal shape")
    diff = a - b
    n_seeds, n_clips = diff.shape
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for i in range(resamples):
        seeds = rng.integers(0, n_seeds, size=n_seeds)
        clips = rng.integers(0, n_clips, size=n_clips)
        means[i] = diff[np.ix_(seeds, clips)].mean()
    return {**_summary(float(diff.mean()), means, resamples), "seeds": n_seeds}


def _summary(delta: float, means: np.ndarray, resamples: int) -> dict[str, float]:
    far_side = np.mean(means >= 0) if delta < 0 else np.mean(means <= 0)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "delta": delta,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": float(min(1.0, max(2 * far_side, 1.0 / resamples))),
        "resamples": resamples,
    }


def aso_epsilon_min(
    mae_a: ArrayLike,
    mae_b: ArrayLike,
    seed: int = 0,
    confidence_level: float = 0.95,
    higher_is_better: bool = False,
) -> float | None:
    """ASO's epsilon_min that system a is better than b, from per-run scores: test MAE (lower
    is better) or, with ``higher_is_better``, a score such as mAP.

    ``deepsig.aso`` (Dror et al., 2019; del Barrio et al., 2018); an error is negated, so
    "stochastically larger" means "lower error". 0 means a dominates b, 0.5 no order, 1 b
    dominates a; below 0.2 is the usual threshold for calling a better. ``None`` with fewer
    than two seeds per system, where there is no distribution to compare.
    """
    a = np.asarray(mae_a, dtype=np.float64)
    b = np.asarray(mae_b, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return None
    from deepsig import aso  # imported here: it pulls in pandas

    sign = 1.0 if higher_is_better else -1.0
    with warnings.catch_warnings():
        # deepsig warns when the two samples do not overlap at all; 0 or 1 is then the answer
        warnings.filterwarnings("ignore", "Division by zero encountered in violation ratio")
        return float(
            aso(
                sign * a,
                sign * b,
                confidence_level=confidence_level,
                seed=seed,
                show_progress=False,
                num_jobs=1,
            )
        )
