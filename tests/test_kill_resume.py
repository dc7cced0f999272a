"""Kill-safe runs: SIGKILL a real process mid-checkpoint and mid-training, then run it again.

The end-to-end test kills ``videoadviser run`` twice (in the middle of the teacher's training,
then in the middle of a student's) and checks that the run, started again each time, ends with
the test metrics of an uninterrupted run. Checkpoints are resumed with their RNG states, so
the predictions files come out byte-identical (measured on the 2-core CPU this suite runs
on; the metrics themselves are compared within 1e-6).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fast_recipe import FAST

from videoadviser.utils.io import recover_folder, staged_folder


def test_a_kill_during_a_checkpoint_write_keeps_the_old_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "best"
    with staged_folder(target, "checkpoint") as staging:
        (staging / "model.safetensors").write_bytes(b"epoch 1")
    child = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from videoadviser.utils.io import staged_folder
        with staged_folder(Path({str(target)!r}), "checkpoint") as staging:
            (staging / "model.safetensors").write_bytes(b"epoch 2, half writ")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], check=False)
    assert done.returncode == -signal.SIGKILL
    assert (target / "model.safetensors").read_bytes() == b"epoch 1"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".best.")]  # the staging
    recover_folder(target)  # what a trainer does when it starts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_a_kill_between_the_two_renames_is_recovered(tmp_path: Path) -> None:
    target = tmp_path / "last"
    with staged_folder(target, "checkpoint") as staging:
        (staging / "state.json").write_text("{}")
    aside = tmp_path / ".last.old.abc"  # where the first rename put it
    aside.mkdir()
    os.replace(target, aside / "x")
    (tmp_path / ".last.xyz").mkdir()  # the complete new folder that never moved in
    assert not target.exists()
    recover_folder(target)
    assert (target / "state.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]


def _wait_then_kill(process: subprocess.Popen[bytes], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 300
    while not ready():
        assert process.poll() is None, "the run ended before the point to kill it at"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL


def _test_metrics(out: Path) -> dict[str, dict[str, float]]:
    results = json.loads((out / "results.json").read_text())
    return {m: results["per_seed"]["1"][m]["test"] for m in results["models"]}


def test_videoadviser_run_killed_twice_ends_as_an_uninterrupted_run(
    tiny_demo: Path, tmp_path: Path
) -> None:
    def command(out: Path) -> list[str]:
        recipe = [*FAST, "--set", "teacher.epochs=6", "--set", "student.epochs=3"]
        # the transcript warm-up (an option), shrunk: the first kill lands after it, so the
        # resumed run must freeze and cache the tuned layer as the uninterrupted one did
        recipe += ["--set", "teacher.transcript_tuned_layers=1"]
        recipe += ["--set", "teacher.transcript_warmup_epochs=1"]
        data = ["--data", str(tiny_demo), "--seeds", "1", "-q", "--out", str(out)]
        return [sys.executable, "-m", "videoadviser.cli", "run", *data, *recipe]

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    whole = tmp_path / "whole"
    done = subprocess.run(
        command(whole), check=True, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    # -q: the table and where the results went, no other library's bars or reports (the
    # side lane's process included); only videoadviser's own warnings may remain
    assert done.stdout.lstrip().startswith("| Model (test split) |")
    assert done.stdout.rstrip().endswith("(results.json, results.csv, summary.csv, report.html)")
    noise = [x for x in done.stderr.splitlines() if not x.startswith("WARNING videoadviser")]
    assert noise == [], noise[:5]

    out = tmp_path / "killed"
    seed = out / "seed_1"
    first = subprocess.Popen(command(out), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    _wait_then_kill(first, lambda: (seed / "teacher" / "last").is_dir())  # after epoch 1 (warm-up)
    assert not (seed / "teacher" / "metrics.json").exists()  # killed mid-teacher

    second = subprocess.Popen(command(out), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    _wait_then_kill(second, lambda: (seed / "student_distilled" / "last").is_dir())
    assert not (seed / "student_distilled" / "metrics.json").exists()  # killed mid-student

    subprocess.run(command(out), check=True, cwd=tmp_path, env=env, capture_output=True)
    expected, got = _test_metrics(whole), _test_metrics(out)
    assert set(got) == set(expected)
    for model, metrics in expected.items():
        assert got[model] == pytest.approx(metrics, abs=1e-6), model
    # and every prediction is the same to the last digit (measured so on this CPU)
    for name in ("teacher_predictions.csv", "student_distilled/predictions.csv"):
        assert (out / "seed_1" / name).read_text() == (whole / "seed_1" / name).read_text()
