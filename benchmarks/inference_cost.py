"""Inference cost of the student (text only) vs the teacher (video decoding + CLIP + text).

VideoAdviser's point: at inference only the student runs. This measures, side by side in one
run, the wall time to score the same test clips with each, and prints medians over repeats and
their ratio. Both models come from a finished `videoadviser run` folder:

    python benchmarks/inference_cost.py --run runs/demo-... --data data/demo --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from videoadviser.config import load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.student.model import load_student
from videoadviser.student.trainer import Encoded, predict_encoded
from videoadviser.teacher.trainer import frame_sampling, load_teacher, prepare_inputs, run_teacher
from videoadviser.utils.runtime import quiet_other_libraries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, required=True, help="a videoadviser run folder")
    parser.add_argument(
        "--seed", type=int, default=None, help="which seed folder (default: the first)"
    )
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output
    seed_dir = args.run / f"seed_{args.seed}" if args.seed else sorted(args.run.glob("seed_*"))[0]
    recipe = load_recipe(
        "demo", [f'data.path="{args.data}"', 'cache_dir="/tmp/videoadviser-bench"']
    )
    records = load_dataset(args.data, progress=False).split("test")[: args.clips]

    teacher, tokenizers, _ = load_teacher(seed_dir / "teacher" / "best")
    student, student_tokenizer = load_student(seed_dir / "student_distilled" / "best")
    sampling = frame_sampling(teacher, recipe.data)
    recipe.teacher.freeze_vision = False  # time real decoding, not the feature cache

    def teacher_pass() -> None:
        # an empty cache each time: clips are decoded and transcripts encoded, as for new video
        with tempfile.TemporaryDirectory(prefix="videoadviser-bench-") as cache:
            recipe.cache_dir = cache
            inputs = prepare_inputs(teacher, tokenizers, records, recipe, progress=False)
            run_teacher(teacher, inputs, sampling, 64)

    def student_pass() -> None:
        encoded = Encoded(student_tokenizer, [r.text for r in records], recipe.student.max_length)
        predict_encoded(student, encoded, 64)

    times: dict[str, list[float]] = {"teacher": [], "student": []}
    with torch.no_grad():
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            for name, fn in (("teacher", teacher_pass), ("student", student_pass)):
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
    t, s = statistics.median(times["teacher"]), statistics.median(times["student"])
    print(
        f"clips: {len(records)}, repeats: {args.repeats}, torch threads: {torch.get_num_threads()}"
    )
    print(
        f"teacher (decode {recipe.data.num_frames} frames + CLIP + text): "
        f"median {t:.2f} s ({1000 * t / len(records):.1f} ms/clip)"
    )
    print(f"student (text only): median {s:.2f} s ({1000 * s / len(records):.1f} ms/clip)")
    print(f"teacher / student time ratio: {t / s:.2f}")


if __name__ == "__main__":
    main()
