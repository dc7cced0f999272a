"""Learning-rate schedules as pure functions of the optimizer step.

A schedule that is a function of the step alone needs no state of its own: a resumed run
recomputes the same rate from the step it resumes at.
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("constant", "cosine")


def lr_factor(schedule: str, step: int, total_steps: int, warmup_steps: int = 0) -> float:
    """The multiplier of the base rate at optimizer step ``step`` (0-based).

    ``constant``: 1 after a linear warm-up over ``warmup_steps``. ``cosine``: the same warm-up,
    then half a cosine from 1 down to 0 at ``total_steps``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule {schedule!r} is not one of {', '.join(SCHEDULES)}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rates(optimizer: torch.optim.Optimizer, base: list[float], factor: float) -> None:
    """Set every parameter group's rate to its base rate times ``factor``."""
    for group, rate in zip(optimizer.param_groups, base, strict=True):
        group["lr"] = rate * factor
