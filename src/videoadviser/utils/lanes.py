"""A side lane: one more process that runs stages beside this one, the CPU threads split
between the two.

On a CPU the demo recipe's students are too small to keep two cores busy from one process: on 2
cores the MiniLM student's training steps run about 113 texts/s with two threads, 79 with one,
and about 150 in all as two one-thread processes side by side. Whole stages gain less (loading,
export and evaluation gain little; ``benchmarks/side_lane.py`` times them). The serial parts of
a step (dropout's random numbers, small kernels, Python between operations) leave the second
core idle. The teacher is different: its batches (8 frames of 32 clips through a ViT) do use
both threads (with one, beside a student, its epochs took 1.8x as long), and it is on the
critical path. So the main job trains the teacher with every thread and then, on a CPU, the
students side by side (:func:`videoadviser.pipeline.run_seed`).

Only where it can help (:func:`lanes_help`): one process (never under ``torchrun``, whose ranks
must all run the same stages), no GPU, two or more threads. The side process starts fresh
(``spawn``), with this process's log level and quieted libraries. An error a stage raises there
is raised again here by :meth:`Pending.result` (as a :class:`VideoAdviserError` with its
message if it cannot cross a process boundary); a side process that dies is an error here, not
a hang; and the side process dies with this one, so a killed run leaves nothing training beside
the next one.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import torch

from videoadviser.errors import TrainingError, VideoAdviserError
from videoadviser.utils.runtime import process_state, quiet_other_libraries, torch_threads

T = TypeVar("T")
logger = logging.getLogger(__name__)


def lanes_help() -> bool:
    """Whether a side lane can help here: one process, no GPU, two or more torch threads."""
    return (
        not torch.cuda.is_available()
        and process_state().num_processes == 1
        and torch.get_num_threads() >= 2
    )


def _start_side(threads: int, parent: int, log_level: int) -> None:
    """In the side process: ``threads`` threads, the parent's log level, quiet libraries, and
    death with the ``parent`` process."""
    torch.set_num_threads(threads)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    if log_level > logging.DEBUG:
        quiet_other_libraries()
    if sys.platform.startswith("linux"):  # the kernel kills this process when the parent dies
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)

    def watch() -> None:  # elsewhere (and as a second guard): notice being re-parented
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _ready() -> None:
    """A no-op stage: submitted first, it starts the side process (and its imports) early."""


def _run_stage(stage: Callable[..., T], args: tuple[Any, ...]) -> T:
    """Run ``stage`` in the side process; an exception that could not be rebuilt here (one
    whose constructor takes other arguments) comes back as a VideoAdviserError instead."""
    try:
        return stage(*args)
    except Exception as error:
        try:
            pickle.loads(pickle.dumps(error))
        except Exception:
            raise VideoAdviserError(f"{type(error).__name__}: {error}") from None
        raise


class Pending(Generic[T]):
    """A stage queued on the side lane."""

    def __init__(self, future: Future[T], name: str) -> None:
        self._future, self.name = future, name

    def result(self) -> T:
        """Wait for the stage; its return value, or its exception raised here.

        Raises:
            TrainingError: the side process died (killed, out of memory) before it finished.
        """
        try:
            return self._future.result()
        except BrokenProcessPool:
            raise TrainingError(
                f"{self.name}: the side process running it died (killed, or out of memory); "
                "run again (finished stages are reused), or with --no-parallel-stages"
            ) from None


class SideLane:
    """One side process with half of ``threads`` (rounded down; this process keeps the rest
    while :meth:`beside`); stages run there in submission order."""

    def __init__(self, threads: int) -> None:
        if threads < 2:
            raise ValueError("a side lane needs two or more threads to split")
        self.threads = threads
        self.here = threads - threads // 2  # the longer stage runs here: the larger half
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_side,
            initargs=(threads // 2, os.getpid(), logging.getLogger().getEffectiveLevel()),
        )
        self._pool.submit(_ready)

    def submit(self, name: str, stage: Callable[..., T], *args: Any) -> Pending[T]:
        """Queue ``stage(*args)`` (named ``name`` in errors): a module-level function with
        picklable arguments and result."""
        return Pending(self._pool.submit(_run_stage, stage, args), name)

    @contextmanager
    def beside(self) -> Iterator[None]:
        """While both processes work: this one runs with its share of the threads (the side
        process has the rest); the count on entry is restored afterwards. Stages on the
        critical path (the teacher) run outside this block, with every thread."""
        with torch_threads(self.here):
            yield

    def close(self, kill: bool = False) -> None:
        """Wait for the queued stages, or with ``kill`` stop the side process at once."""
        if kill:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()  # no public way to stop a running task
        self._pool.shutdown(wait=True, cancel_futures=kill)


@contextmanager
def side_lane(enabled: bool) -> Iterator[SideLane | None]:
    """A :class:`SideLane` (started now, so its imports overlap this process's work) when
    ``enabled`` and :func:`lanes_help`, else ``None``: the caller then runs every stage itself.
    An error in the block stops the side process at once."""
    if not enabled:
        yield None
        return
    if not lanes_help():
        logger.warning(
            "stages run one after another: the side lane needs one process (not torchrun), "
            "no GPU and two or more threads"
        )
        yield None
        return
    lane = SideLane(torch.get_num_threads())
    try:
        yield lane
    except BaseException:
        lane.close(kill=True)
        raise
    else:
        lane.close()
