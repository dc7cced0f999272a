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

from videoadviser.errors import DataError
from videoadviser.utils.lanes import side_lane


def threads_and_pid() -> tuple[int, int]:
    return torch.get_num_threads(), os.getpid()


def fail(message: str) -> None:
    raise DataError(message)


def test_without_the_lane_the_caller_runs_everything() -> None:
    threads = torch.get_num_threads()
    with side_lane(False) as lane:
        assert lane is None and torch.get_num_threads() == threads


def test_stages_run_in_another_process_with_the_other_half_of_the_threads() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        with side_lane(True) as lane:
            assert lane is not None and torch.get_num_threads() == 4  # until both work
            with lane.beside():
                assert torch.get_num_threads() == 2  # this process keeps half
                first, second = lane.submit(threads_and_pid), lane.submit(threads_and_pid)
                (there, pid), (_, pid_again) = first.result(), second.result()
            assert torch.get_num_threads() == 4  # given back afterwards
        assert there == 2 and pid != os.getpid() and pid_again == pid  # one side process
    finally:
        torch.set_num_threads(threads)


def test_an_error_in_the_side_lane_is_raised_here_with_its_message() -> None:
    with pytest.raises(DataError, match="clip 7 has no video"):
        with side_lane(True) as lane:
            assert lane is not None
            lane.submit(fail, "clip 7 has no video").result()


def test_the_side_process_dies_with_a_killed_parent(tmp_path: Path) -> None:
    pid_file = tmp_path / "side.pid"
    parent = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from videoadviser.utils.lanes import side_lane
        from tests_lane_helpers import write_pid_and_wait
        with side_lane(True) as lane:
            lane.submit(write_pid_and_wait, {str(pid_file)!r})
            time.sleep(600)
        """
    )
    helpers = tmp_path / "tests_lane_helpers.py"
    helpers.write_text(
        "import os, time\n"
        "from pathlib import Path\n"
        "def write_pid_and_wait(path):\n"
        "    Path(path + '.tmp').write_text(str(os.getpid()))\n"
        "    os.replace(path + '.tmp', path)\n"
        "    time.sleep(600)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
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
    status = Path(f"/proc/{pid}/stat")
    return not (status.is_file() and status.read_text().split(")")[-1].split()[0] == "Z")
