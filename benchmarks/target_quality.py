"""How good a target is the teacher's r_T, against the label, measured on the generator's truth.

The embedded dataset records each clip's latents (``latents.csv``: text sentiment ``s``, face
valence ``v``), so its noise-free score ``y* = 3 clip(w_t s + w_f v, -1, 1)`` is known (the
weights are ``DemoConfig``'s). No model reads it; this script only measures, per split of a
main-job seed and over an unlabelled pool, how far the label ``y`` (five noisy annotators) and
the teacher's ``r_T`` are from ``y*``:

    python benchmarks/target_quality.py --run runs/main5/seed_1111 --pool data/pool-max
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from videoadviser.data.demo import DemoConfig
from videoadviser.data.records import ID_SEPARATOR
from videoadviser.teacher.trainer import PREDICTIONS_FILE


def truth(folder: Path, config: DemoConfig) -> dict[str, float]:
    """``y*`` of every clip of an embedded dataset or pool folder, by clip uid."""
    with open(folder / "latents.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        f"{r['video_id']}{ID_SEPARATOR}{r['clip_id']}": 3.0
        * float(
            np.clip(
                config.weight_text * float(r["text_sentiment"])
                + config.weight_face * float(r["face_valence"]),
                -1,
                1,
            )
        )
        for r in rows
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--pool", default=None, help="unlabelled pool folder (with latents.csv)")
    parser.add_argument("--run", required=True, help="a seed folder with teacher_predictions.csv")
    args = parser.parse_args()

    config = DemoConfig()
    true = truth(Path(args.data), config)
    if args.pool:
        true.update(truth(Path(args.pool), config))
    with open(Path(args.run) / PREDICTIONS_FILE, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["uid"] in true]
    print("| clips | n | MAE(label, y*) | MAE(r_T, y*) | MAE(r_T, label) |")
    print("|---|---|---|---|---|")
    for split in ("train", "valid", "test", "unlabelled"):
        part = [r for r in rows if r["split"] == split]
        if not part:
            continue
        star = np.array([true[r["uid"]] for r in part])
        r_t = np.array([float(r["r_T"]) for r in part])
        if split == "unlabelled":
            cells = ["-", f"{np.abs(r_t - star).mean():.3f}", "-"]
        else:
            label = np.array([float(r["label"]) for r in part])
            cells = [
                f"{np.abs(label - star).mean():.3f}",
                f"{np.abs(r_t - star).mean():.3f}",
                f"{np.abs(r_t - label).mean():.3f}",
            ]
        print(f"| {split} | {len(part)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
