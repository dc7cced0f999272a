r"""Transfer curve: the distilled student's test MAE against the size of the unlabelled pool.

For each seed: train the demo teacher (or reuse ``RUN/seed_<s>/teacher``, the main job's
layout), let it label the whole pool once, then train the no-distillation baseline and one
distilled student per pool size (the first N clips of the pool, so the pools are nested; size 0
is the paper's setting, labelled clips only). Every student is selected on the validation
split; test MAE is reported. Writes ``curve.csv`` (one row per seed and size), ``summary.csv``
(mean and std per size, with each size against the baseline: relative change, seed-and-clip
bootstrap p, ASO epsilon_min), ``curve.json`` and ``curve.png``.

The curve of docs/results.md comes from (the pool is the largest the corpus allows, 26951 clips; the
main job's five-seed run folder supplies the teachers and their pool labels; the student recipe
pinned to the short one the curve was measured with, before the demo recipe's students got six
epochs):

    python benchmarks/transfer_curve.py --run runs/main5 --pool data/pool-max \
        --sizes 0 2000 8000 26951 --seeds 1111 1112 1113 1114 1115 --tag curve \
        --set student.epochs=3 --set student.schedule="constant" --set student.warmup_epochs=0 \
        --set student.min_epochs=0 --set student.patience=2 --set student.mixed_precision="no" \
        --pool-set student.eval_every=103 --pool-set student.min_epochs=1 --out runs/curve

``--pool-set student.KEY=VALUE`` is ``--set student.transfer.KEY=VALUE``: the recipe's
``[student.transfer]`` settings, which apply to the students with unlabelled clips only.
``eval_every=103`` validates them every 103 steps, one epoch of the 2000-clip student, so a
large pool's long epochs are watched by early stopping at the same rate; ``min_epochs=1`` lets
every student read its whole pool once before early stopping may stop it (without it, the
26951-clip student of seed 1111 stopped after 412 steps, having read a quarter of its pool, on
a noisy validation bump). Both leave the 2000-clip student trained exactly as the main job
trains it (one validation per epoch, and patience 2 cannot stop it before its third
validation). Stages are stamped as the main job's are (:mod:`videoadviser.utils.stage`): a
student folder is reused only by the same student recipe, so a run with other settings needs
its own ``--tag``.

``--annotator-noise X`` makes (once) and uses an embedded dataset and pool whose annotators are
noisier (``DemoConfig.annotator_noise``; default 0.6), for the regime map. ``--set`` changes the
students' recipe (``--set student.distill_loss="l1"``); ``--tag`` keeps such variants apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.config import Recipe, load_recipe
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.data.demo import DemoConfig, make_demo_dataset, make_demo_pool
from videoadviser.data.unlabelled import TransferSet, check_no_overlap, load_unlabelled
from videoadviser.pipeline import (
    clip_errors,
    compare,
    student_folder,
    student_stamp,
    teacher_stage,
)
from videoadviser.student.trainer import train_student
from videoadviser.teacher.trainer import PREDICTIONS_FILE
from videoadviser.utils.io import write_csv, write_json
from videoadviser.utils.runtime import quiet_other_libraries
from videoadviser.utils.stage import reuse_or_run


def student_errors(folder: Path, dataset: SentimentDataset) -> np.ndarray:
    """A student's absolute test errors, in test-split order: ``(N,)``."""
    return clip_errors(folder / "predictions.csv", "r_S", dataset.split("test"))


def run_seed(
    recipe: Recipe,
    dataset: SentimentDataset,
    pool: TransferSet,
    folder: Path,
    students: Path,
    sizes: list[int],
) -> list[dict[str, Any]]:
    """Teacher (reused if there), its pool labels, the baseline and one student per size
    (those with unlabelled clips take the recipe's ``[student.transfer]`` settings)."""
    started = time.perf_counter()
    teacher, _, made_by = teacher_stage(recipe, dataset, folder, progress=False, transfer=pool)
    print(f"  teacher and its pool labels ready in {time.perf_counter() - started:.0f} s")
    predictions = folder / PREDICTIONS_FILE
    rows = [{"model": "teacher", "pool": 0, **_maes(teacher)}]
    runs = [("baseline", 0, 0.0)] + [
        ("distilled", n, recipe.student.resolved(with_transfer_set=n > 0).lambda2) for n in sizes
    ]
    for model, n, lambda2 in runs:
        transfer = pool.head(n) if n else None
        name = "student_baseline" if model == "baseline" else "student_distilled"
        out = students / student_folder(name, transfer)  # the main job's names
        started = time.perf_counter()
        metrics = reuse_or_run(
            out,
            lambda out=out, lambda2=lambda2, transfer=transfer: train_student(
                recipe, dataset, out, predictions, lambda2, progress=False, transfer=transfer
            ),
            student_stamp(recipe, dataset, lambda2, made_by, transfer),
        )["metrics"]
        row = {"model": model, "pool": n, **_maes(metrics), "folder": str(out)}
        row["seconds"] = round(time.perf_counter() - started, 1)
        print(f"  {model:9s} pool {n:6d}: valid {row['valid_MAE']:.4f} test {row['test_MAE']:.4f}")
        rows.append(row)
    return rows


def transfer_override(override: str) -> str:
    """``student.KEY=VALUE`` as the recipe's ``student.transfer.KEY=VALUE``."""
    if not override.startswith("student."):
        raise SystemExit(f"--pool-set {override}: expected student.KEY=VALUE")
    return "student.transfer." + override.removeprefix("student.")


def _maes(metrics: dict[str, Any]) -> dict[str, float]:
    return {f"{s}_MAE": metrics[s]["MAE"] for s in ("train", "valid", "test")}


def summarise(
    rows: list[dict[str, Any]], dataset: SentimentDataset, seeds: list[int]
) -> list[dict[str, Any]]:
    """Mean and std per (model, pool); each distilled size against the baseline."""
    out = []
    keys = sorted({(r["model"], r["pool"]) for r in rows}, key=lambda k: (k[0] != "teacher", k))
    baseline = {r["seed"]: r for r in rows if r["model"] == "baseline"}
    for model, pool in keys:
        group = sorted(
            (r for r in rows if (r["model"], r["pool"]) == (model, pool)), key=lambda r: r["seed"]
        )
        line: dict[str, Any] = {"model": model, "pool": pool, "seeds": len(group)}
        for key in ("valid_MAE", "test_MAE", "train_MAE"):
            values = [r[key] for r in group]
            line[f"{key}_mean"] = statistics.mean(values)
            line[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
        if model == "distilled" and len(group) == len(seeds):
            a = np.stack([student_errors(Path(r["folder"]), dataset) for r in group])
            b = np.stack(
                [student_errors(Path(baseline[r["seed"]]["folder"]), dataset) for r in group]
            )
            comparison = compare(a, b, seed=seeds[0])
            line["test_change_percent"] = comparison["relative_mae_change_percent"]
            line["seeds_better"] = comparison["seeds_better"]
            line["seed_clip_p"] = comparison["seed_clip_bootstrap"]["p_value"]
            line["aso_epsilon_min"] = comparison["aso_epsilon_min"]
            valid_base = statistics.mean(baseline[r["seed"]]["valid_MAE"] for r in group)
            line["valid_change_percent"] = (
                100.0 * (valid_base - line["valid_MAE_mean"]) / valid_base
            )
        out.append(line)
    return out


def plot(summary: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    distilled = [s for s in summary if s["model"] == "distilled"]
    sizes = [s["pool"] for s in distilled]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    ax.errorbar(
        sizes,
        [s["test_MAE_mean"] for s in distilled],
        yerr=[s["test_MAE_std"] for s in distilled],
        marker="o",
        capsize=3,
        label="student, distilled (labelled + N unlabelled clips)",
    )
    for model, style in (("baseline", "--"), ("teacher", ":")):
        (line,) = [s for s in summary if s["model"] == model]
        mean, std = line["test_MAE_mean"], line["test_MAE_std"]
        label = "student, no distillation" if model == "baseline" else "teacher (video + text)"
        ax.axhline(mean, linestyle=style, color="k" if model == "teacher" else "C3", label=label)
        ax.axhspan(mean - std, mean + std, color="C3" if model == "baseline" else "0.8", alpha=0.15)
    ax.set_xscale("symlog", linthresh=1000)
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{s / 1000:.0f}k" if s >= 1000 else str(s) for s in sizes])
    ax.set_xlabel("unlabelled clips labelled by the teacher (N)")
    ax.set_ylabel("test MAE (mean +/- std over seeds)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo", help="labelled embedded dataset")
    parser.add_argument("--pool", default="data/pool-max", help="unlabelled pool (made if absent)")
    parser.add_argument("--pool-size", type=int, default=0, help="clips in a made pool (0: max)")
    parser.add_argument("--annotator-noise", type=float, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 2000, 8000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111, 1112, 1113, 1114, 1115])
    parser.add_argument("--run", default="runs/curve", help="folder with seed_<s>/teacher")
    parser.add_argument("--out", default=None, help="results folder (default: --run)")
    parser.add_argument(
        "--tag",
        default="",
        help="name of this student configuration (students go to seed_<s>/<tag>/; default: "
        "seed_<s>/ with the main job's names, so its students are reused)",
    )
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument(
        "--pool-set",
        action="append",
        default=[],
        help="student.KEY=VALUE for the students with unlabelled clips only (the same as "
        "--set student.transfer.KEY=VALUE)",
    )
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output

    config = DemoConfig()
    if args.annotator_noise is not None:
        config = replace(config, annotator_noise=args.annotator_noise)
    if not Path(args.data).exists():
        make_demo_dataset(args.data, config, progress=False)
    if not Path(args.pool).exists():
        from videoadviser.data.demo import load_tweets, unused_tweets

        size = args.pool_size or len(unused_tweets(config, load_tweets()))
        make_demo_pool(args.pool, config, size)
    dataset = load_dataset(args.data, progress=False)
    pool = load_unlabelled(args.pool, progress=False).head(max(args.sizes))
    check_no_overlap(dataset, pool)
    run, out = Path(args.run), Path(args.out or args.run)
    overrides = [
        f'data.path="{args.data}"',
        "data.make_demo=false",
        *args.set,
        *(transfer_override(o) for o in args.pool_set),
    ]
    rows: list[dict[str, Any]] = []
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        recipe = load_recipe(args.recipe, [*overrides, f"seed={seed}"])
        folder = run / f"seed_{seed}"
        students = folder / args.tag if args.tag else folder
        for row in run_seed(recipe, dataset, pool, folder, students, args.sizes):
            rows.append({"seed": seed, **row})
    summary = summarise(rows, dataset, args.seeds)
    out.mkdir(parents=True, exist_ok=True)
    columns = ["seed", "model", "pool", "train_MAE", "valid_MAE", "test_MAE", "seconds", "folder"]
    name = args.tag or "curve"
    write_csv(out / f"{name}.csv", rows, columns)
    write_csv(out / f"{name}_summary.csv", summary, sorted({k for s in summary for k in s}))
    write_json(
        out / f"{name}.json",
        {"args": vars(args), "demo_config": config.__dict__, "rows": rows, "summary": summary},
    )
    noise = config.annotator_noise
    plot(
        summary,
        out / f"{name}.png",
        f"embedded data (annotator noise {noise:g}), {len(args.seeds)} seeds; {name}",
    )
    print(
        "\n| model | pool | valid MAE | test MAE | test change | better | seed+clip p | ASO eps |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for s in summary:
        extra = (
            f"{s['test_change_percent']:+.1f}% | {s['seeds_better']}/{s['seeds']} | "
            f"{s['seed_clip_p']:.4f} | "
            + (f"{s['aso_epsilon_min']:.3f}" if s["aso_epsilon_min"] is not None else "n/a")
            if "test_change_percent" in s
            else " | | | "
        )
        print(
            f"| {s['model']} | {s['pool']} | {s['valid_MAE_mean']:.4f} +/- {s['valid_MAE_std']:.4f}"
            f" | {s['test_MAE_mean']:.4f} +/- {s['test_MAE_std']:.4f} | {extra} |"
        )


if __name__ == "__main__":
    main()
