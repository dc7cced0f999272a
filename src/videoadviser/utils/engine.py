"""The training engine both trainers share: the learning-rate schedule by step, model selection
on validation MAE with early stopping, and an exponential moving average of the weights.

The teacher's and the student's loops differ only in what a batch is and how a checkpoint is
written; everything that decides *when* to stop and *which* weights to keep lives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videoadviser.errors import TrainingError
from videoadviser.utils.io import recover_folder
from videoadviser.utils.schedule import lr_factor, set_learning_rates


class StepSchedule:
    """Sets every parameter group's rate for each optimizer step (see :func:`lr_factor`).

    A pure function of the step, so a resumed run continues from ``step`` with the same rates.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: str,
        total_steps: int,
        warmup_steps: int = 0,
        step: int = 0,
    ) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.step = step
        self.base_rates = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
        for group, rate in zip(optimizer.param_groups, self.base_rates, strict=True):
            group["initial_lr"] = rate

    def advance(self) -> float:
        """Set the rates of the coming step, count it, and return its factor."""
        factor = lr_factor(self.schedule, self.step, self.total_steps, self.warmup_steps)
        set_learning_rates(self.optimizer, self.base_rates, factor)
        self.step += 1
        return factor


@dataclass
class Selection:
    """Model selection on validation MAE, with patience and an earliest epoch to stop at."""

    patience: int
    earliest_stop: int = 0
    best_mae: float = math.inf
    best_epoch: int = -1
    bad_epochs: int = 0

    def update(self, epoch: int, valid_mae: float) -> bool:
        """Record epoch ``epoch``'s (1-based) validation MAE; True if it is the new best."""
        if valid_mae < self.best_mae:
            self.best_mae, self.best_epoch, self.bad_epochs = valid_mae, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    def should_stop(self, epochs_done: int) -> bool:
        """Stop before the next epoch: no gain for ``patience`` epochs, past the earliest stop."""
        return self.bad_epochs >= self.patience and epochs_done >= self.earliest_stop

    def as_dict(self) -> dict[str, float | int]:
        return {k: v for k, v in asdict(self).items() if k not in ("patience", "earliest_stop")}


class WeightAverage:
    """An exponential moving average of a model's floating-point parameters and buffers.

    ``update()`` after each optimizer step; ``swapped_in()`` lends the averaged weights to the
    model (to validate or export it) and puts the trained ones back afterwards.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
        self.average = [t.detach().clone() for t in self.tensors]

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.average, self.tensors, 1.0 - self.decay)

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        with torch.no_grad():
            trained = [t.detach().clone() for t in self.tensors]
            torch._foreach_copy_(self.tensors, self.average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self.tensors, trained)


def mean_parts(parts: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each loss term over a window of steps, as ``loss_<term>`` (a history row's
    columns); a term missing from some steps is averaged over those that have it."""
    keys = {key for step in parts for key in step}
    return {
        f"loss_{key}": float(np.mean([step[key] for step in parts if key in step]))
        for key in sorted(keys)
    }


def check_finite(value: float, what: str, stage: str, epoch: int, step: int, kept: str) -> None:
    """Stop training on a NaN or infinite ``value`` (a loss, a prediction, a metric).

    Raises:
        TrainingError: naming the ``stage``, the 1-based ``epoch`` and ``step``, what the
            stage folder ``kept`` (:func:`kept`), and how to go on: every command that trains
            (``run``, ``teacher train``, ``student train``) takes ``--overwrite``.
    """
    if math.isfinite(value):
        return
    raise TrainingError(
        f"{stage}: {what} is {value} at epoch {epoch}, step {step}; training stopped. "
        f"{kept}. Lower the learning rate or set grad_clip in the recipe, then give the same "
        "command again with --overwrite (it retrains this stage under the new settings) or "
        "with another --out; or check the data"
    )


def clip_gradients(accelerator: Any, model: torch.nn.Module, max_norm: float) -> None:
    """Clip the gradient norm to ``max_norm`` (no-op for 0), across processes."""
    if max_norm > 0:
        accelerator.clip_grad_norm_(model.parameters(), max_norm)


def kept(out_dir: Path, best_epoch: float) -> str:
    """What a stopped stage leaves: its ``best/`` checkpoint when this training (or the run it
    resumed, made with the same settings) wrote one, at ``best_epoch`` (< 1: none yet)."""
    best = Path(out_dir) / "best"
    if best_epoch >= 1 and best.is_dir():
        return f"The best checkpoint of this training (validation {best_epoch:g}), {best}, is kept"
    return "This training had written no checkpoint yet"


def rng_tensors() -> dict[str, torch.Tensor]:
    """This process's random states (CPU, and its GPU's), for a resume point."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def restore_rng(states: dict[str, torch.Tensor]) -> None:
    """Undo :func:`rng_tensors`: dropout goes on as in the uninterrupted run. (Saved by the
    main process: with several processes the others' dropout streams are not restored.)"""
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def recover_checkpoints(out_dir: Path, accelerator: Any) -> None:
    """Before a trainer reads its ``last/`` and ``best/``: undo what a kill in the middle of
    writing one of them left (:func:`~videoadviser.utils.io.recover_folder`), on the main
    process, then wait for it on all."""
    if accelerator.is_main_process:
        recover_folder(Path(out_dir) / "last")
        recover_folder(Path(out_dir) / "best")
    accelerator.wait_for_everyone()
