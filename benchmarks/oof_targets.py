"""Out-of-fold against in-sample teacher targets for the labelled training clips (step 2).

The teacher's r_T on its own training clips is in-sample: it has partly memorised their labels.
With ``teacher.oof_folds = K`` each training clip's r_T comes instead from a teacher trained
without that clip's (speaker-disjoint) fold. For each seed this script reuses the main job's
teacher and students (``RUN/seed_<s>/``), trains the K fold teachers, writes a predictions file
with out-of-fold r_T for the training clips, and trains the paper-setting distilled student on
it. It prints the teacher's train MAE in-sample and out of fold, and the students' valid and
test MAE (baseline, in-sample targets, out-of-fold targets), mean +/- std over seeds:

    python benchmarks/oof_targets.py --run runs/main5 --folds 3 --seeds 1111 1112 1113
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.config import load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.pipeline import use_out_of_fold_targets
from videoadviser.student.trainer import train_student
from videoadviser.teacher.trainer import PREDICTIONS_FILE
from videoadviser.utils.io import read_json, write_json
from videoadviser.utils.runtime import quiet_other_libraries


def train_mae(predictions: Path, column: str) -> float:
    """MAE of ``column`` against the label over the training clips of a predictions file."""
    with open(predictions, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "train"]
    return float(np.mean([abs(float(r[column]) - float(r["label"])) for r in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--run", default="runs/main5", help="main job folder (seed_<s>/...)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111, 1112, 1113])
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output

    dataset = load_dataset(args.data, progress=False)
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        recipe = load_recipe(
            args.recipe,
            [f'data.path="{args.data}"', f"seed={seed}", f"teacher.oof_folds={args.folds}"]
            + args.set,
        )
        folder = Path(args.run) / f"seed_{seed}"
        oof_file = folder / f"teacher_predictions_oof{args.folds}.csv"
        if not oof_file.is_file():
            shutil.copyfile(folder / PREDICTIONS_FILE, oof_file)  # labelled rows only matter
        use_out_of_fold_targets(
            recipe, dataset, folder / f"teacher_oof{args.folds}", oof_file, progress=False
        )
        student = folder / f"student_distilled_oof{args.folds}"
        if not (student / "metrics.json").is_file():
            train_student(recipe, dataset, student, oof_file, progress=False)
        row: dict[str, Any] = {
            "seed": seed,
            "teacher_train_MAE_in_sample": train_mae(oof_file, "r_T_in_sample"),
            "teacher_train_MAE_oof": train_mae(oof_file, "r_T"),
        }
        for name, stage in (
            ("baseline", "student_baseline"),
            ("in_sample", "student_distilled"),
            ("oof", student.name),
        ):
            metrics = read_json(folder / stage / "metrics.json")
            row[f"{name}_valid_MAE"] = metrics["valid"]["MAE"]
            row[f"{name}_test_MAE"] = metrics["test"]["MAE"]
        print(row, flush=True)
        rows.append(row)
    write_json(Path(args.run) / f"oof{args.folds}.json", rows)
    print(f"\n{len(rows)} seeds, {args.folds} folds; mean +/- std")
    for key in rows[0]:
        if key == "seed":
            continue
        values = [r[key] for r in rows]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{key:32s} {statistics.mean(values):.4f} +/- {spread:.4f}")


if __name__ == "__main__":
    main()
