"""A side lane: one more process that runs stages beside this one, the CPU threads split
between the two.

On a CPU the demo recipe's models are too small to keep two cores busy from one process:
on 2 cores the MiniLM student trains 113 texts/s with two threads, 79 with one, and 151 in all
as two one-thread processes side by side (``benchmarks/side_lane.py``). The serial parts of a
step (dropout's random numbers, small kernels, Python between operations) leave the second core
idle. The teacher is different: its larger batches (8 frames of 32 clips through
a ViT) do use both threads (on 2 cores it trains 1.8x slower with one), and it is on the
critical path. So the main job trains the teacher with every thread, then, on a CPU, the
students side by side in two processes of half the threads each: the transfer-set student here,
the baseline and the paper-setting student there.

Only where it can help (:func:`lanes_help`): one process (not under ``torchrun``), no GPU, two
or more threads. The side process starts fresh (``spawn``): nothing of this process's state
leaks into it. A stage it runs writes its folder as it would here; an error it raises is raised
again by :meth:`Pending.result`; it dies with this process (a killed run leaves no orphan
training beside the next one).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from typing import Any, Generic, TypeVar

import torch

from videoadviser.utils.runtime import process_state

T = TypeVar("T")


def lanes_help() -> bool:
    """Whether a side lane can help here: one process, no GPU, two or more torch threads."""
    return (
        not torch.cuda.is_available()
        and process_state().num_processes == 1
        and torch.get_num_threads() >= 2
    )


def _start_side(threads: int, parent: int) -> None:
    """In the side process: use ``threads`` threads and die with the ``parent`` process."""
    torch.set_num_threads(threads)
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()  # the side lane writes no bars or load reports
    transformers_logging.disable_progress_bar()
    if sys.platform.startswith("linux"):  # the kernel kills this process when the parent dies
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)

    def watch() -> None:  # elsewhere: notice being re-parented within a second
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class Pending(Generic[T]):
    """A stage queued on the side lane."""

    def __init__(self, result: AsyncResult) -> None:
        self._result = result

    def result(self) -> T:
        """Wait for the stage; its return value, or its exception raised here."""
        return self._result.get()


class SideLane:
    """One side process; stages run there in submission order, with the threads that
    :meth:`beside` gives it."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.here = max(1, threads // 2)
        context = multiprocessing.get_context("spawn")
        self._pool = context.Pool(
            1, initializer=_start_side, initargs=(threads - self.here, os.getpid())
        )

    def submit(self, stage: Callable[..., T], *args: Any) -> Pending[T]:
        """Queue ``stage(*args)``: a module-level function with picklable arguments and
        result. Call it inside :meth:`beside`, which also waits for it."""
        return Pending(self._pool.apply_async(stage, args))

    @contextmanager
    def beside(self) -> Iterator[None]:
        """While both processes work: this one keeps half the threads (the side process has
        the other half); all of them again afterwards. Stages on the critical path (the
        teacher) run outside this block, with every thread."""
        torch.set_num_threads(self.here)
        try:
            yield
        finally:
            torch.set_num_threads(self.threads)

    def close(self, kill: bool = False) -> None:
        """Wait for the queued stages, or with ``kill`` stop the side process at once."""
        if kill:
            self._pool.terminate()
        else:
            self._pool.close()
        self._pool.join()


@contextmanager
def side_lane(enabled: bool) -> Iterator[SideLane | None]:
    """A :class:`SideLane` (started now, so its imports overlap this process's work), or
    ``None`` when not ``enabled``: the caller then runs every stage itself. An error in the
    block stops the side process at once."""
    if not enabled:
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
