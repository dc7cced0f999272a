"""Read a training stage's TensorBoard event files back (for the trainers' tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_tensorboard(stage: Path) -> dict[str, list[Any]]:
    """A stage's scalars (``stage/tensorboard``) by tag, each a list of events (step, value)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(stage / "tensorboard")).Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}
