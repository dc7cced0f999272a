"""The side lane: stages in a second process, threads split, errors raised here, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from videoadviser.errors import DataError, TrainingError, VideoAdviserError
from videoadviser.utils.lanes import side_lane


def threads_and_pid() -> tuple[int, int]:
    return torch.get_num_threads(), os.getpid()


def fail(message: str) -> None:
    raise DataError(message)


class TwoArgumentError(Exception):
    """An exception pickle cannot rebuild (its constructor takes two arguments)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


def fail_to_pickle() -> None:
    raise TwoArgumentError("clip.mp4", "no frames")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.fixture
def four_threads() -> object:
    threads = torch.get_num_threads()
    torch.set_num_threads(4)
    yield
    torch.set_num_threads(threads)


def test_without_the_lane_the_caller_runs_everything() -> None:
    threads = torch.get_num_threads()
    with side_lane(False) as lane:
        assert lane is None and torch.get_num_threads() == threads


def test_one_thread_is_not_split(caplog: pytest.LogCaptureFixture) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with side_lane(True) as lane:
            assert lane is None
        assert "stages run one after another" in caplog.text
    finally:
        torch.set_num_threads(threads)


def test_stages_run_in_another_process_with_the_other_half_of_the_threads(
    four_threads: object,
) -> None:
    with side_lane(True) as lane:
        assert lane is not None and torch.get_num_threads() == 4  # until both work
        with lane.beside():
            assert torch.get_num_threads() == 2  # this process keeps its half
            first = lane.submit("first", threads_and_pid)
            second = lane.submit("second", threads_and_pid)
            (there, pid), (_, pid_again) = first.result(), second.result()
        assert torch.get_num_threads() == 4  # given back afterwards
    assert there == 2 and pid != os.getpid() and pid_again == pid  # one side process


def test_an_error_there_is_raised_here_and_the_threads_are_given_back(
    four_threads: object,
) -> None:
    with pytest.raises(DataError, match="clip 7 has no video"):
        with side_lane(True) as lane:
            assert lane is not None
            with lane.beside():
                lane.submit("stage", fail, "clip 7 has no video").result()
    assert torch.get_num_threads() == 4
    # an exception that cannot be rebuilt in this process arrives with its message
    with pytest.raises(VideoAdviserError, match="TwoArgumentError: clip.mp4: no frames"):
        with side_lane(True) as lane:
            assert lane is not None
            lane.submit("stage", fail_to_pickle).result()


def test_a_side_process_that_dies_is_an_error_not_a_hang(four_threads: object) -> None:
    with pytest.raises(TrainingError, match="runs/x/student_baseline: the side process"):
        with side_lane(True) as lane:
            assert lane is not None
            lane.submit("runs/x/student_baseline", die).result()


def test_the_side_process_dies_with_a_killed_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "side.pid"
    (tmp_path / "lane_helpers.py").write_text(
        "import os, time\n"
        "from pathlib import Path\n"
        "def write_pid_and_wait(path):\n"
        "    Path(path + '.tmp').write_text(str(os.getpid()))\n"
        "    os.replace(path + '.tmp', path)\n"
        "    time.sleep(600)\n"
    )
    parent = textwrap.dedent(
        f"""
        import time, torch
        from videoadviser.utils.lanes import side_lane
        from lane_helpers import write_pid_and_wait
        torch.set_num_threads(2)
        with side_lane(True) as lane:
            lane.submit("wait", write_pid_and_wait, {str(pid_file)!r})
            time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    process = subprocess.Popen([sys.executable, "-c", parent], env=env, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not pid_file.is_file():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    side = int(pid_file.read_text())
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while _alive(side):
        assert time.monotonic() < deadline, "the side process outlived its killed parent"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")  # a zombie no one has reaped yet is dead
    return not (status.is_file() and status.read_text().split(")")[-1].split()[0] == "Z")
