"""Two real processes: ``torchrun --nproc_per_node 2`` runs the main job on the CPU (gloo).

One set of outputs, written once; the teacher's and students' predictions equal what one
process computes from the same checkpoints.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fast_recipe import FAST

from videoadviser.cli import main
from videoadviser.data.dataset import load_dataset
from videoadviser.evaluation.metrics import regression_metrics
from videoadviser.student.trainer import predict_texts


def _column(path: Path, column: str) -> dict[str, float]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["uid"]: float(row[column]) for row in csv.DictReader(handle)}


def test_the_main_job_on_two_processes(tiny_demo: Path, tiny_pool: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cache = f'cache_dir="{tmp_path / "cache"}"'
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", "-m", "videoadviser.cli", "run", "--seeds", "1"]
    command += ["--data", str(tiny_demo), "--unlabelled", str(tiny_pool), "--out", str(out)]
    command += ["-q", *FAST, "--set", "student.epochs=2", "--set", cache]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "run_info.json").read_text())["processes"] == 2
    assert done.stdout.count("| Teacher (video + transcript) |") == 1  # one process reports
    assert not list(out.rglob(".*"))  # no staging folder or temporary file left behind

    # the teacher's predictions (labelled and pool clips, shared out over the two processes
    # and gathered) are what one process computes from the same checkpoint
    seed = out / "seed_1"
    alone = tmp_path / "alone.csv"
    predict = ["teacher", "predict", "--teacher", str(seed / "teacher" / "best"), "-q"]
    predict += ["--data", str(tiny_demo), "--unlabelled", str(tiny_pool), "--out", str(alone)]
    assert main([*predict, "--set", "data.num_frames=4", "--set", cache]) == 0
    two, one = _column(seed / "teacher_predictions.csv", "r_T"), _column(alone, "r_T")
    assert set(two) == set(one) and len(one) == 40 + 12
    np.testing.assert_allclose([two[u] for u in one], list(one.values()), atol=1e-5)

    # each student's test metrics are those of its exported model, run in one process
    test = load_dataset(tiny_demo, progress=False).split("test")
    results = json.loads((out / "results.json").read_text())["per_seed"]["1"]
    for name in ("student_distilled", "student_baseline", "student_transfer"):
        folder = seed / (f"{name}_12" if name == "student_transfer" else name)
        scores = predict_texts(folder / "best", [r.text for r in test])
        written = _column(folder / "predictions.csv", "r_S")
        np.testing.assert_allclose(scores, [written[r.uid] for r in test], atol=1e-5)
        metrics = regression_metrics(scores, np.array([r.label for r in test]))
        assert metrics["MAE"] == pytest.approx(results[name]["test"]["MAE"], abs=1e-4)
