"""The shared training engine: step schedule, selection with early stopping, weight average."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from videoadviser.utils.engine import Selection, StepSchedule, WeightAverage, mean_parts


def test_step_schedule_warms_up_decays_and_resumes() -> None:
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [weight], "lr": 1.0}], lr=1.0)
    schedule = StepSchedule(optimizer, "cosine", total_steps=6, warmup_steps=2)
    rates = []
    for _ in range(6):
        schedule.advance()
        rates.append(optimizer.param_groups[0]["lr"])
    expected = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert all(math.isclose(a, b, abs_tol=1e-12) for a, b in zip(rates, expected, strict=True))
    # a schedule rebuilt at step 4 (a resumed run) gives the same rates from there
    again = StepSchedule(optimizer, "cosine", total_steps=6, warmup_steps=2, step=4)
    again.advance()
    assert math.isclose(optimizer.param_groups[0]["lr"], expected[4], abs_tol=1e-12)
    assert again.base_rates == [1.0]  # the base rate, not the last scheduled one


def test_selection_keeps_the_best_and_stops_after_patience() -> None:
    selection = Selection(patience=2, earliest_stop=4)
    maes = [1.0, 0.8, 0.9, 0.95, 0.97]
    improved = [selection.update(epoch + 1, mae) for epoch, mae in enumerate(maes[:3])]
    assert improved == [True, True, False] and selection.best_epoch == 2
    assert not selection.should_stop(3)
    selection.update(4, maes[3])
    assert selection.bad_epochs == 2 and selection.should_stop(4)
    early = Selection(patience=1, earliest_stop=5)
    early.update(1, 1.0)
    early.update(2, 2.0)
    assert not early.should_stop(2) and early.should_stop(5)
    assert selection.as_dict() == {"best_mae": 0.8, "best_epoch": 2, "bad_epochs": 2}


def test_weight_average_is_an_ema_and_swaps_back() -> None:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(4.0)
    average.update()  # 0.5 * 0 + 0.5 * 4
    with torch.no_grad():
        model.weight.fill_(8.0)
    average.update()  # 0.5 * 2 + 0.5 * 8
    with average.swapped_in():
        assert model.weight.item() == 5.0
    assert model.weight.item() == 8.0


def test_clip_gradients_bounds_the_norm_and_zero_is_off() -> None:
    from accelerate import Accelerator

    from videoadviser.utils.engine import clip_gradients

    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 3)

    def grads() -> torch.Tensor:
        model.zero_grad()
        (model(torch.full((2, 4), 100.0)) ** 2).sum().backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]

    norm = float(grads().norm())
    assert norm > 10
    clip_gradients(accelerator, model, 0.0)
    assert float(torch.cat([p.grad.flatten() for p in model.parameters()]).norm()) == norm
    grads()
    clip_gradients(accelerator, model, 0.5)
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()])  # type: ignore[union-attr]
    assert float(clipped.norm()) == pytest.approx(0.5, rel=1e-4)


def test_check_finite_names_the_stage_epoch_and_step(tmp_path: Path) -> None:
    from videoadviser.errors import TrainingError
    from videoadviser.utils.engine import check_finite, kept

    check_finite(1.5, "the loss", "teacher (x)", 1, 1, kept(tmp_path, -1))
    with pytest.raises(
        TrainingError, match=r"teacher \(x\): the loss is inf at epoch 3, step 7"
    ) as e:
        check_finite(float("inf"), "the loss", "teacher (x)", 3, 7, kept(tmp_path, -1))
    # every training command (run, teacher train, student train) takes --overwrite
    assert "the same command again with --overwrite" in str(e.value)
    assert kept(tmp_path, -1) == "This training had written no checkpoint yet"
    (tmp_path / "best").mkdir()  # left by another configuration: never called "kept"
    assert kept(tmp_path, -1) == "This training had written no checkpoint yet"
    assert f"{tmp_path / 'best'}, is kept" in kept(tmp_path, 2)


def test_mean_parts_averages_each_term_over_the_steps_that_have_it() -> None:
    steps = [{"l1": 1.0, "distill": 4.0}, {"l1": 3.0, "distill": 2.0, "soft_kl": 0.5}]
    assert mean_parts(steps) == {"loss_distill": 3.0, "loss_l1": 2.0, "loss_soft_kl": 0.5}
    assert mean_parts([]) == {}
