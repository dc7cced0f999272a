"""Teacher input ablation on the embedded dataset: video+transcript vs transcript vs video.

Trains the demo recipe's teacher with each input setting over several seeds and prints the
validation MAE (the selection metric) and test MAE as mean +/- std. The README's teacher table
comes from:

    python benchmarks/teacher_ablation.py --data data/demo --seeds 1111 1112 1113 1114 1115 \
        --out runs/ablation

``--set section.key=value`` runs the same ablation on a variant of the recipe
(``--set teacher.video_first_epochs=0`` gave the README's "without the video-first phase" row).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from videoadviser.config import load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.data.demo import make_demo_dataset
from videoadviser.teacher.trainer import train_teacher
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import quiet_other_libraries

INPUTS = ("both", "transcript", "video")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--recipe", default="demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1111, 1112, 1113])
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--set", action="append", default=[], help="extra recipe override")
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output

    if not Path(args.data).exists():
        make_demo_dataset(args.data)
    dataset = load_dataset(args.data, progress=False)
    out = Path(args.out)
    results: dict[str, list[dict[str, float]]] = {}
    for inputs in args.inputs:
        for seed in args.seeds:
            overrides = [f'data.path="{args.data}"', f'teacher.inputs="{inputs}"', f"seed={seed}"]
            recipe = load_recipe(args.recipe, overrides + args.set)
            started = time.perf_counter()
            result = train_teacher(
                recipe, dataset, out / inputs / str(seed), progress=False, resume=False
            )
            row = {
                "seed": seed,
                "valid_MAE": result["metrics"]["valid"]["MAE"],
                "test_MAE": result["metrics"]["test"]["MAE"],
                "test_Corr": result["metrics"]["test"]["Corr"],
                "best_epoch": result["best_epoch"],
                "seconds": round(time.perf_counter() - started, 1),
            }
            results.setdefault(inputs, []).append(row)
            print(inputs, json.dumps(row), flush=True)
    write_json(out / "ablation.json", results)
    print("\n| teacher inputs | valid MAE | test MAE | test Corr |")
    print("|---|---|---|---|")
    for inputs, rows in results.items():
        cells = []
        for key in ("valid_MAE", "test_MAE", "test_Corr"):
            values = [r[key] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} +/- {spread:.3f}")
        print(f"| {inputs} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
