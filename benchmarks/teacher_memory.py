"""Peak memory of teacher training against the number of clips, and frame-decoding throughput.

Clips are decoded once into the frame cache and read a batch at a time, and a frozen
transcript encoder's states live in their own disk cache, so the teacher's peak memory should
not grow with the dataset. This measures it: for each size, a fresh process decodes the clips
into an empty cache (cold clips/s), reads them all back (warm clips/s), then trains the demo
teacher for one epoch (and evaluates it on every split, as training does) and reports its peak
resident memory. The clips are the embedded unlabelled pool's (rendered talking faces, nested:
the 2000-clip set is the first 2000 of the 20000), given random labels, since memory does not
depend on them.

    python benchmarks/teacher_memory.py --pool data/pool-max --sizes 2000 20000 --out runs/memory

Prints one row per size and the ratio of the largest size's peak memory to the smallest's
(the goal: at most 1.2).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.config import load_recipe
from videoadviser.data.clips import decode_into_cache
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.unlabelled import load_unlabelled
from videoadviser.teacher.trainer import train_teacher
from videoadviser.utils.io import write_json


def labelled_view(pool: Path, n: int, seed: int = 0) -> SentimentDataset:
    """The first ``n`` pool clips as a labelled dataset: random labels, a tenth of the clips
    (2 to 100) for valid and as many for test, the rest train."""
    transfer = load_unlabelled(pool, progress=False, limit=n)
    rng = np.random.default_rng(seed)
    k = max(2, min(100, n // 10))
    splits = ["valid"] * k + ["test"] * k + ["train"] * (len(transfer.records) - 2 * k)
    records = [
        replace(r, label=float(rng.uniform(-3, 3)), split=split)
        for r, split in zip(transfer.records, splits)
    ]
    return SentimentDataset(records, str(pool), transfer.video_report)


def measure(pool: Path, n: int, folder: Path, workers: int) -> dict[str, Any]:
    """One size, in this process: cold decode, warm read, one teacher epoch, peak memory."""
    dataset = labelled_view(pool, n)
    recipe = load_recipe(
        "demo",
        [
            f'cache_dir="{folder / "cache"}"',
            "teacher.epochs=1",
            "teacher.min_epochs=0",
            "teacher.video_first_epochs=0",
            f"data.num_workers={workers}",
        ],
    )
    started = time.perf_counter()
    frames = decode_into_cache(dataset.records, recipe.cache_dir, 8, 64, workers=workers)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(frames), 32):
        frames.read(range(start, min(start + 32, len(frames))))
    warm = time.perf_counter() - started
    started = time.perf_counter()
    train_teacher(recipe, dataset, folder / "teacher", progress=False)
    epoch = time.perf_counter() - started
    return {
        "clips": n,
        "decode_cold_clips_per_s": n / cold,
        "read_warm_clips_per_s": n / warm,
        "teacher_epoch_and_eval_s": epoch,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pool", type=Path, default=Path("data/pool-max"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--workers", type=int, default=-1, help="decoding processes")
    parser.add_argument("--out", type=Path, default=Path("runs/memory"))
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one size, in a fresh process so that its peak memory is its own
        print(json.dumps(measure(args.pool, args.child, args.out / str(args.child), args.workers)))
        return
    rows = []
    for n in args.sizes:
        command = [sys.executable, __file__, "--pool", str(args.pool), "--out", str(args.out)]
        command += ["--workers", str(args.workers), "--child", str(n)]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    write_json(args.out / "teacher_memory.json", {"rows": rows, "peak_rss_ratio": ratio})
    print(
        "\n| clips | decode, cold (clips/s) | read, warm (clips/s) | epoch + eval (s) | peak RSS |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['clips']} | {r['decode_cold_clips_per_s']:.0f} | "
            f"{r['read_warm_clips_per_s']:.0f} | {r['teacher_epoch_and_eval_s']:.0f} | "
            f"{r['peak_rss_mib']:.0f} MiB |"
        )
    print(f"\npeak RSS, {rows[-1]['clips']} clips / {rows[0]['clips']} clips: {ratio:.2f}")


if __name__ == "__main__":
    main()
