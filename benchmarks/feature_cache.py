"""Frame-feature cache: a teacher epoch with a frozen vision tower, warm cache against cold.

With ``teacher.freeze_vision = true`` the trainer's :func:`prepare_inputs` takes each clip's
frame and patch features from the disk cache (:mod:`videoadviser.teacher.features`). This
measures what the cache saves, side by side in one run:

- **cold**: no decoded frames and no frame features in the cache: every clip is decoded from
  its mp4 (``data.num_workers`` processes), the frozen vision tower encodes its frames and the
  features are written to the cache;
- **warm**: the same with the cache as the cold run left it: the features are read back and
  no clip is decoded.

**The unit of work** is the real trainer, nothing re-implemented: ``train_teacher`` with
``teacher.epochs = 1`` on a fresh output folder. Its own calls to ``prepare_inputs`` (one per
split) are timed by wrapping that function, and its history gives the epoch's seconds
(training steps and the validation pass). Three figures come out of each call:

- ``inputs``: ``prepare_inputs`` for every split (what the cache changes and nothing else);
- ``epoch`` (the headline, "a teacher epoch"): ``inputs`` plus the epoch's training steps and
  validation, i.e. everything between a built teacher and its first checkpoint;
- ``stage``: the whole ``train_teacher`` call, adding what does not depend on the cache and
  is paid once per stage, not per epoch (building the teacher and its tokenizers, saving
  ``best/`` and ``last/``, the final evaluation of every split).

Only the frame cache (``frames/``) and the feature cache (``features/``) are emptied for a cold
run. The other things under ``cache_dir`` are there both ways: the random CLIP checkpoint (built
once) and the frozen MiniLM's transcript states (their own cache; emptying it too would add
MiniLM over every transcript to the cold side, which is not the frame-feature cache's doing).
A first, untimed run fills them. The operating system's file cache is not dropped: "cold"
means the application's cache, not the disk's.

The epoch sees both modalities (``teacher.video_first_epochs = 0``; the demo's first 20 epochs
read video only), the dearer epoch on the warm side. Repeats interleave the two (cold then warm,
then warm then cold, ...) so drift on a noisy machine hits both; it prints each repeat, the
medians, clips/s (every clip of every split, over the median seconds), the median of the
per-repeat cold / warm ratios and the ratio of the medians, and writes the JSON results file.

    python benchmarks/feature_cache.py --repeats 3                          # demo, 64 px
    python benchmarks/feature_cache.py --paper-size --clips 200 --repeats 3  # ViT-B/32, 224 px

``--paper-size`` swaps the demo's tiny CLIP for a random-weight ViT-B/32 CLIP
(``random:vit-b-32``, the architecture of ``openai/clip-vit-base-patch32`` that the ``mosi``
recipe names; no weights are downloaded), so the frames are 224 px and the tower is the
paper's; the rest of the recipe is the demo's. ``--clips N`` keeps the first N clips, each
split's first ones in the dataset's proportions (at least 2 a split).
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from videoadviser.config import Recipe, load_recipe
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.data.records import SPLITS
from videoadviser.teacher import trainer
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import quiet_other_libraries

PHASES = ("inputs", "epoch", "stage")  # see the module docstring; "epoch" is the headline
HEADLINE = "epoch"
GOAL = 10.0  # the goal for the headline ratio (printed, never asserted)
PAPER_CHECKPOINT = "random:vit-b-32"  # openai/clip-vit-base-patch32's architecture
PAPER_SIZE_CLIPS = 200  # --paper-size without --clips
RESULTS = Path("benchmarks/results")


@dataclass
class Timing:
    """One timed ``train_teacher`` call: seconds of each phase, clips decoded meanwhile."""

    seconds: dict[str, float]
    frames_decoded: int


# -- data and recipe ---------------------------------------------------------------------------
def subset(dataset: SentimentDataset, clips: int | None) -> SentimentDataset:
    """The first clips of each split, ``clips`` in all, in the dataset's proportions (the
    largest split takes what rounding leaves; at least 2 a split, as the dataset requires);
    every clip with ``None``."""
    if clips is None:
        return dataset
    rows = {split: dataset.split(split) for split in SPLITS}
    counts = {s: max(2, round(clips * len(r) / len(dataset.records))) for s, r in rows.items()}
    largest = max(rows, key=lambda s: len(rows[s]))
    counts[largest] = max(2, counts[largest] + clips - sum(counts.values()))
    records = [r for s in SPLITS for r in rows[s][: counts[s]]]
    return SentimentDataset(records, dataset.source, dataset.video_report)


def make_recipe(name: str, data: str, cache: Path, paper_size: bool, extra: list[str]) -> Recipe:
    """The recipe timed: one epoch, frozen vision tower, both modalities from the first step,
    ``cache`` as its cache folder; ``extra`` overrides last."""
    overrides = [
        f'data.path="{data}"',
        f'cache_dir="{cache}"',
        "teacher.freeze_vision=true",
        "teacher.epochs=1",
        "teacher.min_epochs=0",
        "teacher.video_first_epochs=0",
    ]
    if paper_size:
        overrides.append(f'teacher.checkpoint="{PAPER_CHECKPOINT}"')
    return load_recipe(name, overrides + extra)


# -- one timed run -----------------------------------------------------------------------------
@contextmanager
def timed_prepare_inputs(spent: list[float]) -> Iterator[None]:
    """Append the seconds of every call the trainer makes to its ``prepare_inputs`` to
    ``spent``; the trainer's own function does the work, and is put back after the block."""
    original: Callable[..., trainer.TeacherInputs] = trainer.prepare_inputs

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> trainer.TeacherInputs:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    trainer.prepare_inputs = timed
    try:
        yield
    finally:
        trainer.prepare_inputs = original


def frame_entries(cache: Path) -> int:
    """Decoded clips in the frame cache."""
    return sum(1 for _ in (cache / "frames").rglob("*.npy"))


def frame_shapes(cache: Path) -> list[str]:
    """The frame cache's ``<frames>x<pixels>`` folders: the sampling the run decoded."""
    return sorted(p.name for p in (cache / "frames").iterdir() if p.is_dir())


def empty_frame_caches(cache: Path) -> None:
    """Remove the decoded frames and the frame features: the next run starts cold."""
    for folder in ("frames", "features"):
        shutil.rmtree(cache / folder, ignore_errors=True)


def teacher_epoch(recipe: Recipe, dataset: SentimentDataset, out: Path) -> Timing:
    """One ``train_teacher`` call of one epoch into a fresh ``out`` (removed after), timed."""
    cache = Path(recipe.cache_dir)
    shutil.rmtree(out, ignore_errors=True)
    before = frame_entries(cache)
    spent: list[float] = []
    started = time.perf_counter()
    with timed_prepare_inputs(spent):
        result = trainer.train_teacher(recipe, dataset, out, progress=False, resume=False)
    stage = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    inputs = sum(spent)
    seconds = {
        "inputs": inputs,
        "epoch": inputs + result["history"][0]["seconds"],
        "stage": stage,
    }
    return Timing(seconds, frame_entries(cache) - before)


def cold_or_warm(way: str, recipe: Recipe, dataset: SentimentDataset, out: Path) -> Timing:
    """A cold run (the frame caches emptied first) or a warm one (the cache as it is)."""
    if way == "cold":
        empty_frame_caches(Path(recipe.cache_dir))
    return teacher_epoch(recipe, dataset, out)


# -- summary -----------------------------------------------------------------------------------
def summarise(cold: list[float], warm: list[float], clips: int) -> dict[str, Any]:
    """Seconds both ways, their medians, clips/s at the medians, the per-repeat cold / warm
    ratios, their median and the ratio of the medians."""
    ratios = [c / w for c, w in zip(cold, warm)]
    median_cold, median_warm = statistics.median(cold), statistics.median(warm)
    return {
        "cold_s": cold,
        "warm_s": warm,
        "median_cold_s": median_cold,
        "median_warm_s": median_warm,
        "cold_clips_per_s": clips / median_cold,
        "warm_clips_per_s": clips / median_warm,
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "ratio_of_medians": median_cold / median_warm,
    }


def print_table(phases: dict[str, dict[str, Any]]) -> None:
    """A Markdown table: median seconds and clips/s both ways, and the ratios, per phase."""
    labels = {
        "inputs": "inputs (prepare_inputs, every split)",
        "epoch": "teacher epoch (inputs + training steps + validation)",
        "stage": "whole stage (train_teacher, 1 epoch)",
    }
    print("\n| median | cold | warm | cold / warm (median of ratios; of medians) |")
    print("|---|---|---|---|")
    for phase, s in phases.items():
        print(
            f"| {labels[phase]} | {s['median_cold_s']:.2f} s ({s['cold_clips_per_s']:.1f} "
            f"clips/s) | {s['median_warm_s']:.2f} s ({s['warm_clips_per_s']:.1f} clips/s) | "
            f"{s['median_ratio']:.2f}x; {s['ratio_of_medians']:.2f}x |"
        )


# -- main --------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo", help="labelled dataset (MMSA raw layout)")
    parser.add_argument("--recipe", default="demo")
    parser.add_argument(
        "--clips",
        type=int,
        default=None,
        help=f"clips in all (default: every clip; {PAPER_SIZE_CLIPS} with --paper-size)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="cold and warm runs each")
    parser.add_argument(
        "--paper-size", action="store_true", help=f"a {PAPER_CHECKPOINT} CLIP (224 px frames)"
    )
    parser.add_argument("--set", action="append", default=[], help="recipe override")
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a temporary one)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results JSON (default: {RESULTS}/feature_cache.json, "
        "feature_cache_paper_size.json with --paper-size)",
    )
    args = parser.parse_args()
    if args.repeats < 1 or (args.clips is not None and args.clips < 1):
        parser.error("--repeats and --clips must be at least 1")
    if args.clips is None and args.paper_size:
        args.clips = PAPER_SIZE_CLIPS
    if args.out is None:
        args.out = RESULTS / f"feature_cache{'_paper_size' if args.paper_size else ''}.json"
    return args


def main() -> None:
    args = parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output
    work = args.work or Path(tempfile.mkdtemp(prefix="feature_cache_"))
    work.mkdir(parents=True, exist_ok=True)
    cache, out = work / "cache", work / "teacher"
    recipe = make_recipe(args.recipe, args.data, cache, args.paper_size, args.set)
    if not recipe.teacher.freeze_vision or recipe.teacher.inputs == "transcript":
        raise SystemExit("the feature cache needs a video teacher with teacher.freeze_vision")
    dataset = subset(load_dataset(args.data, recipe.data.video_policy, progress=False), args.clips)
    counts = {s: len(dataset.split(s)) for s in SPLITS}
    clips = len(dataset.records)
    print(
        f"{recipe.teacher.checkpoint} teacher, frozen vision tower, {recipe.data.num_frames} "
        f"frames; clips: {counts} ({clips} in all); {torch.get_num_threads()} torch threads"
    )
    times: dict[str, dict[str, list[float]]] = {p: {"cold": [], "warm": []} for p in PHASES}
    decoded: dict[str, list[int]] = {"cold": [], "warm": []}
    orders = []
    try:
        # untimed: builds the random CLIP and fills the transcript cache (there both ways)
        first = cold_or_warm("cold", recipe, dataset, out)
        shapes = frame_shapes(cache)
        print(
            f"first run (untimed, fills every cache): {first.seconds['stage']:.1f} s; frames "
            f"decoded as {', '.join(shapes)} (frames x pixels)"
        )
        for repeat in range(args.repeats):
            order = ("cold", "warm") if repeat % 2 == 0 else ("warm", "cold")
            orders.append(list(order))
            done = {way: cold_or_warm(way, recipe, dataset, out) for way in order}
            for way, timing in done.items():
                decoded[way].append(timing.frames_decoded)
                for phase in PHASES:
                    times[phase][way].append(timing.seconds[phase])
            c, w = done["cold"].seconds, done["warm"].seconds
            print(
                f"repeat {repeat + 1} ({' then '.join(order)}): teacher epoch cold "
                f"{c[HEADLINE]:.2f} s, warm {w[HEADLINE]:.2f} s, ratio "
                f"{c[HEADLINE] / w[HEADLINE]:.2f}; whole stage {c['stage']:.1f} s / "
                f"{w['stage']:.1f} s; clips decoded {done['cold'].frames_decoded} / "
                f"{done['warm'].frames_decoded}",
                flush=True,
            )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    phases = {p: summarise(times[p]["cold"], times[p]["warm"], clips) for p in PHASES}
    print_table(phases)
    headline = phases[HEADLINE]["median_ratio"]
    verdict = "met" if headline >= GOAL else "not met"
    print(f"\nteacher epoch, cold / warm: median ratio {headline:.2f}x (goal {GOAL:g}x: {verdict})")
    result = {
        "data": args.data,
        "recipe": recipe.name,
        "overrides": args.set,
        "paper_size": args.paper_size,
        "checkpoint": recipe.teacher.checkpoint,
        "num_frames": recipe.data.num_frames,
        "frame_shapes": shapes,
        "num_workers": recipe.data.num_workers,
        "threads": torch.get_num_threads(),
        "clips": clips,
        "split_clips": counts,
        "repeats": args.repeats,
        "orders": orders,
        "first_run_s": first.seconds,
        "frames_decoded": decoded,
        "headline": HEADLINE,
        "goal_ratio": GOAL,
        "phases": phases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
