r"""Teacher input ablation on an embedded profile: video + transcript, video only, transcript
only, and the fine-tuned text-only student (no distillation) for reference.

Trains the recipe's teacher with each input setting over several seeds (and, with
``--student``, the recipe's baseline student on the same seeds), then prints validation MAE
(the selection metric) and test MAE as mean +/- std, every seed's values, and the issue-14
goals measured on validation:

- video + transcript at least 5% below video only, and below transcript only;
- the transcript-only teacher within 5% of the text-only student.

docs/results.md's tables come from, on each profile (the demo recipe with the transcript warm-up
and video dropout; two profiles side by side, one thread each: OMP_NUM_THREADS=1):

    python benchmarks/teacher_ablation.py --profile mosi --student --out runs/ablation-mosi \
        --set teacher.transcript_tuned_layers=6 --set teacher.transcript_warmup_epochs=3 \
        --set teacher.video_dropout=0.3
    python benchmarks/teacher_ablation.py --profile mosei --student --out runs/ablation-mosei \
        --set teacher.transcript_tuned_layers=6 --set teacher.transcript_warmup_epochs=3 \
        --set teacher.video_dropout=0.3

``--set section.key=value`` runs the same ablation on a variant of the recipe (screens are
run on the default profile's validation split). Finished runs in ``--out`` made with the same
settings are reused (each stage resumes), so an interrupted ablation continues.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from videoadviser.config import load_recipe
from videoadviser.evaluation.significance import aso_epsilon_min
from videoadviser.pipeline import prepare_dataset, with_demo_profile
from videoadviser.student.trainer import train_student
from videoadviser.teacher.trainer import train_teacher
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import quiet_other_libraries

INPUTS = ("both", "video", "transcript")
STUDENT = "student"  # the fine-tuned text-only student (lambda2 = 0), for reference
SEEDS = [1111, 1112, 1113, 1114, 1115]


def run_one(recipe: Any, dataset: Any, model: str, folder: Path) -> dict[str, Any]:
    """Train one model (a teacher with ``model`` inputs, or the baseline student)."""
    started = time.perf_counter()
    if model == STUDENT:
        result = train_student(recipe, dataset, folder, None, lambda2=0.0, progress=False)
        epoch = result.get("best_epoch")
    else:
        result = train_teacher(recipe, dataset, folder, progress=False, resume=True)
        epoch = result["best_epoch"]
    metrics = result["metrics"]
    return {
        "seed": recipe.seed,
        "valid_MAE": metrics["valid"]["MAE"],
        "test_MAE": metrics["test"]["MAE"],
        "test_Corr": metrics["test"]["Corr"],
        "best_epoch": epoch,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +/- {spread:.3f}"


def goals(results: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The issue's goals on mean validation MAE, with the per-seed wins behind each and, for
    "lower than", ASO's epsilon_min over the seeds (whether lower at all, not by how much)."""

    def valid(model: str) -> list[float]:
        return [r["valid_MAE"] for r in results[model]]

    lines = []

    def check(a: str, b: str, factor: float, text: str, significance: bool) -> None:
        if a not in results or b not in results:
            return
        mean_a, mean_b = statistics.mean(valid(a)), statistics.mean(valid(b))
        wins = sum(x < factor * y for x, y in zip(valid(a), valid(b)))
        met = "met" if mean_a <= factor * mean_b else "NOT met"
        line = (
            f"- {text}: {mean_a:.3f} vs {mean_b:.3f} ({100 * (mean_a / mean_b - 1):+.1f}%), "
            f"{met}; per seed {wins} of {len(valid(a))}"
        )
        epsilon = aso_epsilon_min(valid(a), valid(b)) if significance else None
        if epsilon is not None:  # is a lower than b at all (not: by the factor)
            line += f"; ASO eps_min {epsilon:.2f} (a lower error below 0.2)"
        lines.append(line)

    check("both", "video", 0.95, "video + transcript >= 5% below video only", True)
    check("both", "transcript", 1.0, "video + transcript below transcript only", True)
    check("transcript", STUDENT, 1.05, "transcript-only teacher within 5% of the student", False)
    return lines


def print_tables(results: dict[str, list[dict[str, Any]]]) -> None:
    print("\n| model | valid MAE | test MAE | test Corr |")
    print("|---|---|---|---|")
    for model, rows in results.items():
        cells = [
            _mean_std([r[key] for r in rows]) for key in ("valid_MAE", "test_MAE", "test_Corr")
        ]
        print(f"| {model} | " + " | ".join(cells) + " |")
    models = list(results)
    seeds = [r["seed"] for r in next(iter(results.values()))]
    print(f"\nPer seed, valid / test MAE ({' / '.join(models)}):\n")
    print("| seed | valid | test |")
    print("|---|---|---|")
    for i, seed in enumerate(seeds):
        valid = " / ".join(f"{results[m][i]['valid_MAE']:.3f}" for m in models)
        test = " / ".join(f"{results[m][i]['test_MAE']:.3f}" for m in models)
        print(f"| {seed} | {valid} | {test} |")
    print("\nGoals (mean validation MAE):")
    print("\n".join(goals(results)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="mosi", help="embedded profile (mosi, mosei)")
    parser.add_argument("--data", default=None, help="another dataset folder (not a profile)")
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--student", action="store_true", help="also the text-only student")
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--set", action="append", default=[], help="extra recipe override")
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output

    def recipe_for(overrides: list[str]) -> Any:
        if args.data:
            data = [f'data.path="{args.data}"', "data.make_demo=false"]
            return load_recipe(args.recipe, overrides + data)
        return with_demo_profile(load_recipe(args.recipe, overrides), args.profile)

    dataset = prepare_dataset(recipe_for(args.set), progress=False)
    out = Path(args.out)
    results: dict[str, list[dict[str, Any]]] = {}
    models = list(args.inputs) + ([STUDENT] if args.student else [])
    for model in models:
        for seed in args.seeds:
            overrides = [*args.set, f"seed={seed}", 'data.unlabelled=""']
            if model != STUDENT:
                overrides.append(f'teacher.inputs="{model}"')
            recipe = recipe_for(overrides)
            row = run_one(recipe, dataset, model, out / model / str(seed))
            results.setdefault(model, []).append(row)
            print(model, json.dumps(row), flush=True)
            write_json(out / "ablation.json", {"settings": vars(args), "results": results})
    print_tables(results)


if __name__ == "__main__":
    main()
