"""The shared training engine: step schedule, selection with early stopping, weight average."""

from __future__ import annotations

import math

import torch

from videoadviser.utils.engine import Selection, StepSchedule, WeightAverage


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
