"""The main job, ``videoadviser run``: teacher -> predictions -> distilled and baseline students.

For each seed: train the teacher, write its predictions for every clip, train the student with
distillation (the recipe's lambda2) and without (lambda2 = 0), and evaluate all three on the
test split with the MMSA metrics. Then aggregate over seeds, compare distilled vs baseline
(relative MAE change and a paired bootstrap) and write everything to the run folder:

    results.json   every metric of every model, seed and split, the comparison, timings
    results.csv    one row per (model, seed), test metrics
    summary.csv    one row per model, test metrics as mean and std over seeds
    recipe.json    the resolved recipe; run_info.json: seeds, version, git revision, machine

Every stage writes atomically and a finished stage is skipped when the same folder is run
again, so an interrupted run resumes (the teacher also resumes mid-training).
"""

from __future__ import annotations

import csv
import logging
import platform
import statistics
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videoadviser import __version__
from videoadviser.config import Recipe
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.data.demo import make_demo_dataset
from videoadviser.errors import ConfigError
from videoadviser.evaluation.metrics import REGRESSION_METRIC_KEYS
from videoadviser.evaluation.significance import paired_bootstrap_mae
from videoadviser.student.trainer import train_student
from videoadviser.teacher.trainer import PREDICTIONS_FILE, predict_teacher, train_teacher
from videoadviser.utils.io import read_json, write_csv, write_json

logger = logging.getLogger(__name__)

MODELS = ("teacher", "student_distilled", "student_baseline")
LABELS = {
    "teacher": "Teacher (video + transcript)",
    "student_distilled": "Student, distilled (text only)",
    "student_baseline": "Student, no distillation (text only)",
}
TABLE_COLUMNS = (
    ("MAE", "MAE"),
    ("Corr", "Corr"),
    ("Acc-2 Has0", "Has0_acc_2"),
    ("Acc-2 Non0", "Non0_acc_2"),
    ("F1 Non0", "Non0_F1_score"),
    ("Acc-7", "Mult_acc_7"),
)


def git_revision() -> str:
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


def prepare_dataset(recipe: Recipe, progress: bool = True) -> SentimentDataset:
    """Load the recipe's dataset, making the embedded one first if asked to and absent."""
    path = Path(recipe.data.path)
    if recipe.data.make_demo and not path.exists():
        make_demo_dataset(path, progress=progress)
    elif not path.exists():
        raise ConfigError(
            f"data.path {str(path)!r} does not exist: point --data at an MMSA folder or pickle, "
            f"or make the embedded dataset there with `videoadviser data make-demo {path}`"
        )
    return load_dataset(path, recipe.data.video_policy, recipe.data.raw_root, progress=progress)


def _stage(folder: Path, run: Any) -> dict[str, Any]:
    """Run a stage unless its metrics.json exists (then reuse it: resumed run)."""
    if (folder / "metrics.json").is_file():
        logger.info("reusing finished stage %s", folder)
        return {"metrics": read_json(folder / "metrics.json"), "reused": True}
    return run()


def run_seed(
    recipe: Recipe, dataset: SentimentDataset, folder: Path, progress: bool = True
) -> dict[str, Any]:
    """Teacher, its predictions, distilled and baseline students for one seed."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    predictions = folder / PREDICTIONS_FILE
    teacher = _stage(
        folder / "teacher",
        lambda: train_teacher(
            recipe, dataset, folder / "teacher", progress, predictions_file=predictions
        ),
    )
    if not predictions.is_file():  # a teacher stage finished by an older version
        predict_teacher(folder / "teacher" / "best", dataset, recipe, predictions, progress)
    timings["teacher"] = time.perf_counter() - started
    out: dict[str, Any] = {"teacher": teacher["metrics"]}
    for name, lambda2 in (("student_distilled", recipe.student.lambda2), ("student_baseline", 0.0)):
        started = time.perf_counter()

        def train(name: str = name, lambda2: float = lambda2) -> dict[str, Any]:
            return train_student(recipe, dataset, folder / name, predictions, lambda2, progress)

        result = _stage(folder / name, train)
        out[name] = result["metrics"]
        timings[name] = time.perf_counter() - started
    out["timings"] = timings
    return out


def _errors(folder: Path, name: str, test_uids: list[str], labels: np.ndarray) -> np.ndarray:
    """Absolute test errors of one model of one seed, in ``test_uids`` order: ``(N,)``."""
    column = "r_T" if name == "teacher" else "r_S"
    path = folder / (PREDICTIONS_FILE if name == "teacher" else f"{name}/predictions.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        values = {row["uid"]: float(row[column]) for row in csv.DictReader(handle)}
    return np.abs(np.array([values[u] for u in test_uids]) - labels)


def run_experiment(
    recipe: Recipe,
    out_dir: str | Path | None = None,
    seeds: list[int] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """The whole main job; returns (and writes) the results."""
    seeds = seeds or [recipe.seed]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(out_dir) if out_dir else Path("runs") / f"{recipe.name}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "recipe.json", recipe.to_dict())
    started = time.perf_counter()
    dataset = prepare_dataset(recipe, progress)
    per_seed: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        per_seed[seed] = run_seed(
            replace(recipe, seed=seed), dataset, out / f"seed_{seed}", progress
        )

    test = dataset.split("test")
    uids, labels = [r.uid for r in test], np.array([r.label for r in test])
    errors = {
        m: np.mean([_errors(out / f"seed_{s}", m, uids, labels) for s in seeds], axis=0)
        for m in MODELS
    }
    summary = {m: _summarise([per_seed[s][m]["test"] for s in seeds]) for m in MODELS}
    base, dist = (
        summary["student_baseline"]["MAE"]["mean"],
        summary["student_distilled"]["MAE"]["mean"],
    )
    comparison = {
        "relative_mae_change_percent": 100.0 * (base - dist) / base if base else float("nan"),
        "paired_bootstrap": paired_bootstrap_mae(
            errors["student_distilled"], errors["student_baseline"], seed=seeds[0]
        ),
    }
    results = {
        "recipe": recipe.name,
        "dataset": dataset.summary(),
        "seeds": seeds,
        "per_seed": {str(s): v for s, v in per_seed.items()},
        "summary_test": summary,
        "comparison": comparison,
        "seconds": time.perf_counter() - started,
    }
    write_json(out / "results.json", results)
    rows = [{"model": m, "seed": s, **per_seed[s][m]["test"]} for m in MODELS for s in seeds]
    write_csv(out / "results.csv", rows, ["model", "seed", *REGRESSION_METRIC_KEYS])
    summary_rows = [
        {
            "model": m,
            **{
                f"{k}_{stat}": summary[m][k][stat]
                for k in REGRESSION_METRIC_KEYS
                for stat in ("mean", "std")
            },
        }
        for m in MODELS
    ]
    write_csv(out / "summary.csv", summary_rows, list(summary_rows[0]))
    write_json(
        out / "run_info.json",
        {
            "seeds": seeds,
            "version": __version__,
            "git_revision": git_revision(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "machine": platform.platform(),
            "cuda": torch.cuda.is_available(),
            "finished": datetime.now(UTC).isoformat(),
        },
    )
    results["out_dir"] = str(out)
    return results


def _summarise(metrics: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for key in REGRESSION_METRIC_KEYS:
        values = [m[key] for m in metrics]
        out[key] = {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        }
    return out


def format_table(results: dict[str, Any]) -> str:
    """The comparison table printed at the end of ``videoadviser run`` (test split)."""
    seeds = results["seeds"]
    multi = len(seeds) > 1
    header = ["Model (test split)"] + [name for name, _ in TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in MODELS:
        cells = []
        for _, key in TABLE_COLUMNS:
            stat = results["summary_test"][model][key]
            cells.append(
                f"{stat['mean']:.4f} +/- {stat['std']:.4f}" if multi else f"{stat['mean']:.4f}"
            )
        lines.append(f"| {LABELS[model]} | " + " | ".join(cells) + " |")
    comparison = results["comparison"]
    boot = comparison["paired_bootstrap"]
    lines.append("")
    n_test = results["dataset"]["splits"]["test"]
    lines.append(
        f"Seeds: {', '.join(map(str, seeds))}. Distilled vs baseline student: MAE change "
        f"{comparison['relative_mae_change_percent']:+.1f}% (positive = distilled better). "
        f"Paired bootstrap over {n_test} test clips: delta MAE {boot['delta']:+.4f} "
        f"[95% CI {boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}], p = {boot['p_value']:.4f}."
    )
    return "\n".join(lines)
