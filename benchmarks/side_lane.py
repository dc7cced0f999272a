"""Two students one after another in one process, against side by side in two (the side lane).

The main job trains its independent stages on the side lane (:mod:`videoadviser.utils.lanes`)
when it runs on a CPU. This measures what that buys on this machine with the real trainer: two
students of the demo recipe (the baseline, lambda2 = 0, and a second one with another seed),
each for ``--epochs`` epochs on the embedded training split,

- one after the other, in this process, with all its torch threads (``sequential``);
- side by side, one here and one on the side lane, with half the threads each (``lanes``).

Rounds alternate the order (A B, B A, ...) so drift on a noisy machine hits both; it prints the
wall time of each round, the median of each and the median of the per-round ratios, and writes
``side_lane.json``:

    python benchmarks/side_lane.py --rounds 3 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from videoadviser.config import Recipe, load_recipe
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.student.trainer import train_student
from videoadviser.utils.io import write_json
from videoadviser.utils.lanes import side_lane
from videoadviser.utils.runtime import quiet_other_libraries


def student(recipe: Recipe, dataset: SentimentDataset, out: Path) -> float:
    """Train one baseline student into ``out``; its test MAE (a check that both ways train)."""
    return train_student(recipe, dataset, out, None, 0.0, progress=False)["metrics"]["test"]["MAE"]


def sequential(recipes: list[Recipe], dataset: SentimentDataset, work: Path) -> float:
    started = time.perf_counter()
    for i, recipe in enumerate(recipes):
        student(recipe, dataset, work / f"seq_{i}")
    return time.perf_counter() - started


def lanes(recipes: list[Recipe], dataset: SentimentDataset, work: Path) -> float:
    started = time.perf_counter()
    with side_lane(True) as lane:
        assert lane is not None
        with lane.beside():
            there = lane.submit("student", student, recipes[1], dataset, work / "lane_1")
            student(recipes[0], dataset, work / "lane_0")
            there.result()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo", help="labelled embedded dataset")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output

    dataset = load_dataset(args.data, progress=False)
    recipes = [
        load_recipe(
            args.recipe,
            [f'data.path="{args.data}"', f"seed={seed}", f"student.epochs={args.epochs}"]
            + ["student.min_epochs=0", *args.set],
        )
        for seed in (1, 2)
    ]
    print(f"{torch.get_num_threads()} torch threads; {args.epochs} epoch(s) per student")
    times: dict[str, list[float]] = {"sequential": [], "lanes": []}
    ratios = []
    work = Path(tempfile.mkdtemp(prefix="side_lane_"))
    try:
        for round_ in range(args.rounds):
            order = ["sequential", "lanes"] if round_ % 2 == 0 else ["lanes", "sequential"]
            seconds: dict[str, float] = {}
            for way in order:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                seconds[way] = (sequential if way == "sequential" else lanes)(
                    recipes, dataset, work
                )
                times[way].append(seconds[way])
            ratios.append(seconds["sequential"] / seconds["lanes"])
            print(
                f"round {round_ + 1}: sequential {seconds['sequential']:.1f} s, "
                f"side by side {seconds['lanes']:.1f} s, ratio {ratios[-1]:.2f}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result: dict[str, Any] = {
        "threads": torch.get_num_threads(),
        "epochs": args.epochs,
        "train_texts": len(dataset.split("train")),
        "seconds": times,
        "median_seconds": {k: statistics.median(v) for k, v in times.items()},
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
    }
    print(
        f"median: sequential {result['median_seconds']['sequential']:.1f} s, side by side "
        f"{result['median_seconds']['lanes']:.1f} s; median ratio {result['median_ratio']:.2f}x"
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_json(Path(args.out) / "side_lane.json", result)


if __name__ == "__main__":
    main()
