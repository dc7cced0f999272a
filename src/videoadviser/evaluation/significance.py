"""Is the distilled student better than the baseline? A paired bootstrap over test clips."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def paired_bootstrap_mae(
    errors_a: ArrayLike, errors_b: ArrayLike, resamples: int = 10000, seed: int = 0
) -> dict[str, float]:
    """Paired bootstrap of the MAE difference ``mean(a) - mean(b)`` over the same clips.

    Args:
        errors_a, errors_b: ``(N,)`` absolute errors of two systems on the same N clips (for
            several seeds, average each clip's error over seeds first).
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
    delta = float(diff.mean())
    far_side = np.mean(means >= 0) if delta < 0 else np.mean(means <= 0)
    p_value = float(min(1.0, max(2 * far_side, 1.0 / resamples)))
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "delta": delta,
        "ci_low": float(low),
        "ci_high": float(high),
        "p_value": p_value,
        "resamples": resamples,
    }
