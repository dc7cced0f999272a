"""Record what the main job and the retrieval run compute, to show a refactor keeps it.

Issue 25 (one training engine, modules cut by concern) must keep every digit. This script runs,
at a fixed thread count (``OMP_NUM_THREADS=1``, so the digits repeat), through the CLI as a user
would:

- ``tiny``: ``videoadviser run`` on the test suite's tiny dataset and pool (seed 1, the fast
  recipe of ``tests/fast_recipe.py``), one stage after another;
- ``retrieval``: ``videoadviser retrieval run`` on a small embedded VEGAS-like set (seed 1, 2
  folds, short training as in ``tests/test_retrieval_cli.py``);
- ``demo`` (with ``--full``): ``videoadviser run`` with no options, as ``make demo`` runs it.

Each case keeps its ``results.json`` and every predictions file of its run folder. Record once
before a change, then compare after it::

    python benchmarks/behaviour_baseline.py --out benchmarks/results/behaviour_baseline [--full]
    python benchmarks/behaviour_baseline.py --compare benchmarks/results/behaviour_baseline

``--compare`` runs the same cases into a temporary folder and prints, per case, the largest
difference of every metric and every predictions column; it exits 1 when a MAE or mAP differs
by more than ``--tolerance`` (1e-4, the issue's bound).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from fast_recipe import FAST  # noqa: E402  (the test suite's shrunken recipe)

RETRIEVAL_FAST = ["--set", "data.folds=2", "--set", "teacher.epochs=2", "--set", "model.epochs=3"]
CASES = ("tiny", "retrieval")
KEPT = ("results.json",)  # besides every predictions CSV of the run folder
WATCHED = ("MAE", "mAP")  # metrics (by name fragment) held to the tolerance


def videoadviser(*args: str, cwd: Path) -> None:
    """Run the CLI in a fresh process at one thread (the digits repeat only at a fixed count)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "videoadviser.cli", *args, "-q"]
    subprocess.run(command, cwd=cwd, env=env, check=True)


def run_case(case: str, work: Path) -> Path:
    """Run one case in ``work``; returns its run folder."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "run"
    if case == "tiny":
        data, pool = work / "tiny", work / "tiny" / "unlabelled"
        code = (
            "import sys; sys.path.insert(0, 'tests'); from conftest import TINY_DEMO; "
            "from videoadviser.data.demo import make_demo_dataset, make_demo_pool; "
            f"make_demo_dataset({str(data)!r}, TINY_DEMO, workers=1, progress=False); "
            f"make_demo_pool({str(pool)!r}, TINY_DEMO, 12, workers=1, progress=False)"
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        videoadviser(
            "run", "--data", str(data), "--unlabelled", str(pool), "--seeds", "1",
            "--out", str(out), "--no-parallel-stages", *FAST, cwd=work,
        )  # fmt: skip
    elif case == "retrieval":
        vegas = work / "vegas"
        videoadviser("retrieval", "make-demo", str(vegas), "--clips-per-class", "6", cwd=work)
        videoadviser(
            "retrieval", "run", "--data", str(vegas / "vegas_feature.h5"), "--seeds", "1",
            "--out", str(out), *RETRIEVAL_FAST, cwd=work,
        )  # fmt: skip
    elif case == "demo":
        videoadviser("run", "--out", str(out), cwd=work)
    else:
        raise ValueError(case)
    return out


def keep(run: Path, into: Path) -> None:
    """Copy a run folder's results and predictions files into ``into``."""
    for path in sorted(run.rglob("*")):
        if path.is_file() and (path.name in KEPT or path.name.endswith("predictions.csv")):
            target = into / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def numbers(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON tree, by its dotted path (timings left out: they never repeat)."""
    out: dict[str, float] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            if not any(word in str(key) for word in ("time", "timing", "seconds")):
                out.update(numbers(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            out.update(numbers(value, f"{prefix}[{index}]"))
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        out[prefix] = float(tree)
    return out


def csv_columns(path: Path) -> dict[str, float]:
    """Every numeric cell of a predictions CSV, by ``uid.column``."""
    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            uid = row.get("uid") or row.get("clip_id") or str(len(out))
            for column, cell in row.items():
                try:
                    out[f"{uid}.{column}"] = float(cell)
                except (TypeError, ValueError):
                    continue
    return out


def compare(recorded: Path, fresh: Path, tolerance: float) -> bool:
    """Print the largest differences between two kept cases; whether the watched hold."""
    held = True
    for path in sorted(recorded.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(recorded)
        other = fresh / name
        if not other.is_file():
            print(f"  {name}: missing in the new run")
            held = False
            continue
        if path.suffix == ".json":
            old = numbers(json.loads(path.read_text(encoding="utf-8")))
            new = numbers(json.loads(other.read_text(encoding="utf-8")))
        else:
            old, new = csv_columns(path), csv_columns(other)
        keys = sorted(set(old) & set(new))
        lost = sorted(set(old) ^ set(new))
        worst = max(keys, key=lambda k: abs(old[k] - new[k]), default=None)
        gap = abs(old[worst] - new[worst]) if worst else 0.0
        watched = [k for k in keys if any(w in k for w in WATCHED)]
        watched_gap = max((abs(old[k] - new[k]) for k in watched), default=0.0)
        print(f"  {name}: {len(keys)} numbers, largest difference {gap:.3g} ({worst}); "
              f"MAE/mAP {watched_gap:.3g}; {len(lost)} only on one side")  # fmt: skip
        held &= watched_gap <= tolerance and not lost
    return held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="record the cases into this new folder")
    parser.add_argument("--compare", type=Path, help="a recorded folder to compare against")
    parser.add_argument("--full", action="store_true", help="also the `make demo` run (minutes)")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()
    if (args.out is None) == (args.compare is None):
        parser.error("give one of --out and --compare")
    cases = [*CASES, "demo"] if args.full else list(CASES)
    if args.compare is not None:
        cases = [c for c in cases if (args.compare / c).is_dir()]
    held = True
    with tempfile.TemporaryDirectory(prefix="baseline-") as scratch:
        for case in cases:
            run = run_case(case, Path(scratch) / case)
            if args.out is not None:
                if (args.out / case).exists():
                    parser.error(f"{args.out / case} exists: record into a new folder")
                keep(run, args.out / case)
                print(f"{case}: recorded in {args.out / case}")
            else:
                keep(run, Path(scratch) / "kept" / case)
                print(f"{case}:")
                held &= compare(args.compare / case, Path(scratch) / "kept" / case, args.tolerance)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
