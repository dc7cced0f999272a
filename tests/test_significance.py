"""Significance of distilled against baseline: the two bootstraps and ASO on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from videoadviser.evaluation.significance import (
    aso_epsilon_min,
    paired_bootstrap,
    seed_clip_bootstrap_mae,
)


def test_paired_bootstrap() -> None:
    better = [0.1, 0.2, 0.1, 0.3, 0.2] * 20
    worse = [e + 0.5 for e in better]
    result = paired_bootstrap(better, worse, resamples=2000)
    assert result["delta"] == pytest.approx(-0.5)
    assert result["p_value"] == pytest.approx(1 / 2000)
    same = paired_bootstrap(better, better[::-1], resamples=2000)
    assert same["p_value"] > 0.05


def test_seed_clip_bootstrap_sees_seed_variance_that_the_clip_bootstrap_hides() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 1.5, size=(5, 400))
    # seed by seed, a is much better on two seeds and worse on three: no consistent effect,
    # but averaged over seeds it looks better on every clip alike
    shift = np.array([-0.5, -0.5, 0.2, 0.2, 0.25])[:, None]
    a = base + shift + rng.normal(0, 0.01, size=base.shape)
    clip = paired_bootstrap(a.mean(0), base.mean(0), resamples=2000)
    both = seed_clip_bootstrap_mae(a, base, resamples=2000)
    assert both["delta"] == pytest.approx(clip["delta"]) == pytest.approx(shift.mean(), abs=1e-3)
    assert clip["p_value"] < 0.01  # the clip bootstrap calls it significant
    assert both["p_value"] > 0.2 and both["seeds"] == 5  # resampling seeds does not
    # a consistent effect stays significant
    steady = seed_clip_bootstrap_mae(base - 0.1, base, resamples=2000)
    assert steady["p_value"] == pytest.approx(1 / 2000) and steady["ci_high"] < 0
    # one seed: the clip bootstrap
    one = seed_clip_bootstrap_mae(a[:1], base[:1], resamples=500, seed=3)
    assert one["seeds"] == 1 and one["delta"] == pytest.approx((a[0] - base[0]).mean())
    with pytest.raises(ValueError):
        seed_clip_bootstrap_mae(a, base[:, :10])


def test_aso_epsilon_min_on_known_orders() -> None:
    low = [0.98, 1.00, 1.01, 0.99, 1.02]  # MAE: lower is better
    high = [1.10, 1.12, 1.09, 1.11, 1.13]
    assert aso_epsilon_min(low, high) == pytest.approx(0.0, abs=0.01)  # a dominates b
    assert aso_epsilon_min(high, low) == pytest.approx(1.0, abs=0.01)  # b dominates a
    mixed = aso_epsilon_min([1.0, 1.1, 0.9, 1.05, 0.95], [1.02, 0.92, 1.08, 0.97, 1.03])
    # no order: epsilon_min is an upper bound, and 5 seeds leave it high in both directions
    assert mixed > 0.5
    assert aso_epsilon_min([1.02, 0.92, 1.08, 0.97, 1.03], [1.0, 1.1, 0.9, 1.05, 0.95]) > 0.5
    assert aso_epsilon_min([1.0], [1.1]) is None  # one seed: no distribution
