"""Inference cost per clip: the student (text only) against the teacher pipeline, side by side.

VideoAdviser's point: at inference only the student runs. This times, on the same test clips
in one run, what it takes to score a new clip

- with the **teacher pipeline**: decode its ``data.num_frames`` frames from the mp4, run the
  CLIP towers and encode the transcript, into an empty cache each time (as for new video);
- with the **student**, from raw text (tokenising included), three ways: PyTorch fp32, ONNX
  fp32 and ONNX int8 (``videoadviser export --onnx [--int8]``, run on ONNX Runtime).

Batches of ``--batch-size`` clips for all. Repeats are interleaved (each repeat runs every
model once, the order rotating), and it prints medians in ms a clip and the teacher / student
ratio per backend.

Two sizes:

- demo (``--run RUN``): the teacher and the student of a finished ``videoadviser run`` (the
  first seed unless ``--seed``); it also scores the whole test split with each student backend
  and reports the test MAE and its change against PyTorch fp32;
- paper (``--paper-size``): an untrained teacher on a random-weight CLIP ViT-B/32 (the ``mosi``
  recipe: 8 frames at 224 px, transcripts and prompts through the CLIP text tower) and a
  random-weight student of RoBERTa-large's size (24 layers, 1024 wide). Costs do not depend on
  the weights; the clips are the embedded set's (64 px mp4s, so decoding is cheaper than real
  360p video and the teacher's figure is a lower bound).

    python benchmarks/inference_cost.py --run runs/demo-... --repeats 3   # RUN/inference_cost.json
    python benchmarks/inference_cost.py --paper-size --clips 48 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpu_paper_scale import ROBERTA_LARGE, TINY_STUDENT, random_student

from videoadviser.config import Recipe, load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.data.frames import FrameSampling
from videoadviser.data.records import ClipRecord
from videoadviser.student.export import OnnxStudent, export_onnx, find_student
from videoadviser.student.model import build_student, load_student
from videoadviser.student.trainer import Encoded, predict_encoded, truncation_length
from videoadviser.teacher.trainer import (
    build_teacher,
    frame_sampling,
    load_teacher,
    prepare_inputs,
    run_teacher,
    saved_settings,
)
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import quiet_other_libraries

Scorer = Callable[[list[ClipRecord]], np.ndarray]


def teacher_scorer(
    teacher: Any, tokenizers: Any, recipe: Recipe, sampling: FrameSampling, batch_size: int
) -> Scorer:
    """Score clips from their mp4 and transcript, into an empty cache each call."""
    recipe.teacher.freeze_vision = False  # time real decoding and the tower, not the cache

    def score(records: list[ClipRecord]) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="videoadviser-bench-") as cache:
            recipe.cache_dir = cache
            inputs = prepare_inputs(teacher, tokenizers, records, recipe, progress=False)
            return run_teacher(teacher, inputs, sampling, batch_size)[0]

    return score


def student_scorers(model_dir: Path, work: Path, batch_size: int) -> dict[str, Scorer]:
    """The student three ways, each from raw text: PyTorch fp32, ONNX fp32, ONNX int8."""
    model, tokenizer = load_student(model_dir)
    max_length = truncation_length(model_dir, tokenizer)
    fp32 = OnnxStudent(export_onnx(model_dir, work / "onnx"))
    int8 = OnnxStudent(export_onnx(model_dir, work / "onnx-int8", int8=True))

    def pytorch(records: list[ClipRecord]) -> np.ndarray:
        encoded = Encoded(tokenizer, [r.text for r in records], max_length)
        return predict_encoded(model, encoded, batch_size)

    return {
        "student_pytorch_fp32": pytorch,
        "student_onnx_fp32": lambda records: fp32.predict([r.text for r in records], batch_size),
        "student_onnx_int8": lambda records: int8.predict([r.text for r in records], batch_size),
    }


def time_models(
    models: dict[str, Scorer], records: list[ClipRecord], repeats: int
) -> dict[str, list[float]]:
    """Seconds per pass over ``records`` for each model, ``repeats`` interleaved passes."""
    for score in models.values():  # warm-up: first-call allocations, lazy imports
        score(records[:2])
    names = list(models)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    with torch.no_grad():
        for repeat in range(repeats):
            shift = repeat % len(names)
            for name in names[shift:] + names[:shift]:
                started = time.perf_counter()
                models[name](records)
                seconds[name].append(time.perf_counter() - started)
    return seconds


def paper_size_models(
    data: str, work: Path, batch_size: int, tiny: bool
) -> tuple[dict[str, Scorer], Recipe]:
    """An untrained ViT-B/32 teacher and a RoBERTa-large-size student (tiny ones for tests)."""
    recipe = load_recipe(
        "mosi",
        [
            f'data.path="{data}"',
            f'cache_dir="{work / "cache"}"',
            f'teacher.checkpoint="random:{"tiny" if tiny else "vit-b-32"}"',
            *(["data.num_frames=4"] if tiny else []),
        ],
    )
    teacher, tokenizers = build_teacher(recipe)
    encoder = random_student(work / "random-student", TINY_STUDENT if tiny else ROBERTA_LARGE)
    student, tokenizer = build_student(str(encoder), recipe.student.dropout)
    student.save_pretrained(work / "student")  # a student folder, as training exports it
    tokenizer.save_pretrained(work / "student")
    sampling = frame_sampling(teacher, recipe.data)
    models = {"teacher": teacher_scorer(teacher.eval(), tokenizers, recipe, sampling, batch_size)}
    models.update(student_scorers(work / "student", work, batch_size))
    return models, recipe


def demo_size_models(
    run: Path, seed: int | None, data: str, batch_size: int, work: Path
) -> tuple[dict[str, Scorer], Recipe]:
    """The teacher and the student of a finished run."""
    seed_dir = run / f"seed_{seed}" if seed is not None else sorted(run.glob("seed_*"))[0]
    teacher, tokenizers, config = load_teacher(seed_dir / "teacher" / "best")
    recipe, sampling = saved_settings(config)  # the frames and inputs it was trained on
    recipe.data.path = data
    models = {"teacher": teacher_scorer(teacher, tokenizers, recipe, sampling, batch_size)}
    models.update(student_scorers(find_student(seed_dir), work, batch_size))
    return models, recipe


def test_mae(models: dict[str, Scorer], records: list[ClipRecord]) -> dict[str, float]:
    """Each student backend's MAE on ``records`` (the whole test split)."""
    labels = np.array([r.label for r in records])
    return {
        name: float(np.abs(score(records) - labels).mean())
        for name, score in models.items()
        if name.startswith("student")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--run", type=Path, help="a videoadviser run folder (demo size)")
    size.add_argument("--paper-size", action="store_true", help="ViT-B/32 + RoBERTa-large")
    parser.add_argument("--seed", type=int, default=None, help="with --run: which seed folder")
    parser.add_argument("--data", default="data/demo")
    parser.add_argument("--clips", type=int, default=200, help="test clips timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--tiny", action="store_true", help="with --paper-size: tiny models")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    args = parser.parse_args()
    quiet_other_libraries()
    test = load_dataset(args.data, progress=False).split("test")
    records = test[: args.clips]
    with tempfile.TemporaryDirectory(prefix="videoadviser-inference-") as folder:
        work = Path(folder)
        if args.paper_size:
            models, recipe = paper_size_models(args.data, work, args.batch_size, args.tiny)
        else:
            models, recipe = demo_size_models(args.run, args.seed, args.data, args.batch_size, work)
        seconds = time_models(models, records, args.repeats)
        mae = test_mae(models, test) if args.run else {}
    per_clip = {n: 1000 * statistics.median(s) / len(records) for n, s in seconds.items()}
    size_name = "paper" if args.paper_size else "demo"
    print(
        f"{size_name} size; clips: {len(records)}, batch {args.batch_size}, repeats "
        f"{args.repeats}, torch threads {torch.get_num_threads()}, frames a clip "
        f"{recipe.data.num_frames}"
    )
    print("| model | ms a clip (median) | teacher / this | test MAE | MAE change |")
    print("|---|---|---|---|---|")
    reference = mae.get("student_pytorch_fp32")
    for name, ms in per_clip.items():
        ratio = per_clip["teacher"] / ms
        cells = ["", ""]
        if name in mae and reference:
            cells = [f"{mae[name]:.4f}", f"{100 * (mae[name] - reference) / reference:+.2f}%"]
        print(f"| {name} | {ms:.2f} | {ratio:.1f}x | {cells[0]} | {cells[1]} |")
    # a run's figures go into the run folder, where its report.html shows them
    out = args.out or (args.run / "inference_cost.json" if args.run else None)
    out = out or Path("benchmarks/results") / f"inference_cost_{size_name}.json"
    write_json(
        out,
        {
            "size": size_name,
            "clips": len(records),
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "threads": torch.get_num_threads(),
            "num_frames": recipe.data.num_frames,
            "seconds": seconds,
            "ms_per_clip": per_clip,
            "teacher_over": {n: per_clip["teacher"] / ms for n, ms in per_clip.items()},
            "test_mae": mae,
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
