"""Learning-rate schedules: golden values, and a resumed run recomputes the same rate."""

from __future__ import annotations

import math

import pytest
import torch

from videoadviser.utils.schedule import lr_factor, set_learning_rates


def test_constant_with_warmup() -> None:
    assert [lr_factor("constant", s, 100, 4) for s in range(6)] == [0.25, 0.5, 0.75, 1, 1, 1]
    assert lr_factor("constant", 99, 100) == 1.0


def test_cosine_golden_values() -> None:
    assert lr_factor("cosine", 0, 100) == 1.0
    assert lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 25, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0)
    assert lr_factor("cosine", 150, 100) == pytest.approx(0.0)  # stays at 0 past the end
    # warm-up first, then the cosine runs over the remaining steps
    assert lr_factor("cosine", 9, 110, 10) == 1.0
    assert lr_factor("cosine", 60, 110, 10) == pytest.approx(0.5)


def test_unknown_schedule_is_an_error() -> None:
    with pytest.raises(ValueError, match="linear"):
        lr_factor("linear", 0, 10)


def test_set_learning_rates_scales_each_group() -> None:
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 1e-5}])
    set_learning_rates(optimizer, [1e-3, 1e-5], 0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [5e-4, 5e-6]
