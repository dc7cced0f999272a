"""Seeds, the optimizer and the Accelerate set-up shared by the teacher and student trainers."""

from __future__ import annotations

import logging
import platform
import random
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedDataParallelKwargs

from videoadviser import __version__

logger = logging.getLogger(__name__)

T = TypeVar("T")


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` torch threads; the count on entry is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise the named loggers (``""`` is the root logger) to ``level`` for the block, and
    silence Python warnings in it; the levels on entry are restored after."""
    import warnings

    loggers = [logging.getLogger(name or None) for name in names]
    before = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(max(level, log.level))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, old in zip(loggers, before):
            log.setLevel(old)


def quiet_other_libraries() -> None:
    """Silence transformers' load reports and weight-loading bars (noise in a run's output)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def resolve_precision(mixed_precision: str) -> str:
    """A recipe's ``mixed_precision`` as used: ``auto`` is bf16 on a GPU that supports it and
    full precision (``no``) on the CPU; ``bf16`` on a CPU without native bf16 is allowed, with
    a warning (it is emulated and slower)."""
    if mixed_precision == "auto":
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported(False)  # native
        return "bf16" if bf16 else "no"
    if mixed_precision == "bf16" and not torch.cuda.is_available():
        if not torch.cpu._is_avx512_bf16_supported():
            logger.warning(
                "mixed_precision bf16 on a CPU without native bf16 (AVX512-BF16): it is "
                'emulated and slower than full precision; set mixed_precision = "no"'
            )
    return mixed_precision


TENSORBOARD_DIR = "tensorboard"  # a training stage's event files, under its folder


def make_accelerator(
    find_unused_parameters: bool = False, log_dir: str | Path | None = None
) -> Accelerator:
    """An :class:`Accelerator`: one process, or many under ``torchrun`` / ``accelerate launch``
    (gloo on CPUs, NCCL on GPUs).

    Accelerate always runs in full precision: bf16 autocast is :func:`autocast`'s, because
    Accelerate fixes one precision per process and the teacher and the student of one run may
    differ (fp16, which would need Accelerate's loss scaling, is refused by the recipe check).
    ``find_unused_parameters`` is for a model whose steps may leave some parameters out (the
    teacher's transcript path while it reads video only): DDP then does not wait for them.
    With a ``log_dir`` (a training stage's folder) Accelerate's TensorBoard tracker writes event
    files to ``log_dir/tensorboard`` (main process; ``accelerator.log``, then
    :func:`close_trackers`).
    """
    handlers = [DistributedDataParallelKwargs(find_unused_parameters=True)]
    process_state()  # the processes' shared state, made once and the same way everywhere
    accelerator = Accelerator(
        mixed_precision="no",
        cpu=not torch.cuda.is_available(),
        kwargs_handlers=handlers if find_unused_parameters else None,
        log_with="tensorboard" if log_dir is not None else None,
        project_dir=str(log_dir) if log_dir is not None else None,
    )
    if log_dir is not None:
        accelerator.init_trackers(TENSORBOARD_DIR)
    return accelerator


def autocast(precision: str, device: torch.device) -> Any:
    """The forward pass's autocast: bf16 (fp32 master weights) on ``device``, or none."""
    dtype = {"bf16": torch.bfloat16}.get(precision)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def process_state() -> PartialState:
    """The processes of this run: ranks, device, barriers (Accelerate's shared state).

    Without a GPU, Accelerate sees the processes that ``torchrun`` starts only when asked for
    the CPU explicitly (otherwise each one believes it is alone, rank 0 of 1); so the CPU is
    asked for whenever there is no GPU, and the processes then talk over gloo.
    """
    return PartialState(cpu=not torch.cuda.is_available())


def is_main_process() -> bool:
    """Whether this is the process that writes files (rank 0; always, with one process)."""
    return process_state().is_main_process


def wait_for_everyone() -> None:
    """A barrier across processes (no-op with one process): files the main process wrote
    before it are there for every process after it."""
    process_state().wait_for_everyone()


@contextmanager
def main_process_first() -> Iterator[None]:
    """The main process runs the block first (it builds a cache, writes a file), then the
    others run it and find the result there. With one process, just the block."""
    with process_state().main_process_first():
        yield


def make_optimizer(
    groups: list[dict[str, Any]], weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW over parameter ``groups`` (each with its ``lr``).

    The fused kernel where ``device`` (where training runs) has one: the same update, one
    kernel instead of a dozen per step (on 2 CPU cores the MiniLM student's step spends 10 ms
    in it instead of 78 ms).
    """
    fused = device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=fused or None)


def close_trackers(accelerator: Accelerator) -> None:
    """Flush and close a stage's TensorBoard writer. (Not ``accelerator.end_training()``: that
    also ends the process group, which the run's later stages still use.)"""
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []


def run_on_main(write: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``write`` on the main process only, then wait for it on every process.

    Every process must reach this call (it holds a barrier): never call it under
    ``if is_main_process()``.
    """
    result = write(*args, **kwargs) if is_main_process() else None
    wait_for_everyone()
    return result


def git_revision() -> str:
    """The package checkout's git commit, or "unknown"."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def default_run_dir(name: str) -> Path:
    """``runs/<name>-<UTC time>``: where a run goes when no ``--out`` is given."""
    return Path("runs") / f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def run_info(seeds: list[int]) -> dict[str, Any]:
    """What made a run folder: seeds, package version, git revision, software, machine."""
    return {
        "seeds": seeds,
        "version": __version__,
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.platform(),
        "cuda": torch.cuda.is_available(),
        "finished": datetime.now(UTC).isoformat(),
        "processes": process_state().num_processes,
    }
