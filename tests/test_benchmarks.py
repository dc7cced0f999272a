"""The benchmark scripts run end to end on tiny data (their figures are for the README)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from fast_recipe import FAST

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
TINY = [*FAST, "--set", "teacher.epochs=2"]


def _run(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_transfer_curve_and_target_quality(
    tiny_demo: Path, tiny_pool: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    cache = f'cache_dir="{tmp_path / "cache"}"'
    printed = _run(
        "transfer_curve.py",
        "--data", str(tiny_demo), "--pool", str(tiny_pool), "--sizes", "0", "12",
        "--seeds", "3", "--run", str(run), "--set", cache, *TINY,
        "--pool-set", "student.eval_every=2",
    )  # fmt: skip
    assert "| distilled | 12 |" in printed and "| baseline | 0 |" in printed
    with open(run / "curve.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["model"], r["pool"]) for r in rows] == [
        ("teacher", "0"),
        ("baseline", "0"),
        ("distilled", "0"),
        ("distilled", "12"),
    ]
    assert (run / "seed_3" / "student_distilled_12" / "best" / "config.json").is_file()
    summary = json.loads((run / "curve.json").read_text())["summary"]
    pooled = next(s for s in summary if s["pool"] == 12)
    assert "test_change_percent" in pooled and pooled["aso_epsilon_min"] is None  # one seed
    assert (run / "curve.png").stat().st_size > 10_000
    table = _run(
        "target_quality.py", "--data", str(tiny_demo), "--pool", str(tiny_pool),
        "--run", str(run / "seed_3"),
    )  # fmt: skip
    assert "| train | 24 |" in table and "| unlabelled | 12 |" in table
