"""Run a saved teacher over clips (``videoadviser teacher predict``): every labelled clip, the
clips of an unlabelled transfer set, or, for out-of-fold targets, each held-out fold of the
training split with a teacher trained without it.

The rows go to ``teacher_predictions.csv`` (written by
:func:`~videoadviser.teacher.trainer.write_predictions`), the only thing the student reads from
the teacher.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from accelerate import Accelerator

from videoadviser.config import IN_PYTHON, Recipe, Source, range_error
from videoadviser.data.clips import video_stamp
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.frames import FrameSampling
from videoadviser.data.records import SPLITS, ClipRecord
from videoadviser.data.unlabelled import UNLABELLED, TransferSet, check_no_overlap
from videoadviser.teacher.model import VideoAdviserTeacher
from videoadviser.teacher.trainer import (
    PREDICT_BATCH_SIZE,
    TeacherTokenizers,
    check_predictions_file,
    load_teacher,
    prediction_rows,
    prepare_inputs,
    run_teacher,
    saved_settings,
    train_teacher,
    write_predictions,
)
from videoadviser.utils.io import read_json, write_json
from videoadviser.utils.runtime import main_process_first, make_accelerator, run_on_main
from videoadviser.utils.stage import confirm_finished

PREDICT_CHUNK = 2048  # clips decoded and held in memory at a time when predicting


def predict_teacher(
    teacher_dir: str | Path,
    dataset: SentimentDataset,
    recipe: Recipe,
    out_file: str | Path,
    progress: bool = True,
    transfer: TransferSet | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]]:
    """Write r_T and the K logits of every clip of every split (and of every ``transfer`` clip)
    to one CSV, the file the student reads. ``out_file`` is checked before any work: a folder
    there, an unwritable place, or an existing file that is not an earlier predictions file
    (or is one, without ``overwrite``) is a ConfigError (:func:`check_predictions_file`)."""
    check_predictions_file(out_file, overwrite)
    if transfer is not None:
        check_no_overlap(dataset, transfer)
    loaded = _load_for_prediction(teacher_dir, recipe)
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        rows.extend(_predict_records(loaded, dataset.split(split), split, progress))
    if transfer is not None:
        rows.extend(_predict_records(loaded, transfer.records, UNLABELLED, progress))
    run_on_main(write_predictions, out_file, rows)
    return rows


def check_oof_folds(
    recipe: Recipe, dataset: SentimentDataset, source: Source | None = None
) -> None:
    """``teacher.oof_folds`` (when on) is at most the speakers of the training split: a fold
    holds whole speakers. Checked once the data is read, before any training.

    Raises:
        ConfigError: naming the key, its value, the range this data allows and where the
            value came from (``source``: the recipe file or ``--set``; default: a recipe built
            in Python).
    """
    train, k = dataset.split("train"), recipe.teacher.oof_folds
    if k >= 2 and k > len({r.video_id for r in train}):
        raise range_error(
            source or Source(IN_PYTHON), "teacher.oof_folds", k, _folds_allowed(train)
        )


def _folds_allowed(train: list[ClipRecord]) -> str:
    """The values ``teacher.oof_folds`` may take on the training records ``train``, in words."""
    speakers = len({r.video_id for r in train})
    where = (
        f"the training split has {speakers} speaker{'s' if speakers != 1 else ''} (video_ids) "
        f"in {len(train)} clips"
    )
    if speakers < 2:
        return f"0 (off): out-of-fold targets need 2 speakers or more, and {where}"
    return f"0 (off) or 2 to {speakers}: each fold holds whole speakers, and {where}"


def speaker_folds(records: list[ClipRecord], k: int, seed: int) -> list[list[int]]:
    """Split record indices into ``k`` folds with no speaker (``video_id``) in two folds.

    Speakers are shuffled by ``seed`` and dealt, largest first, to the smallest fold, so the
    folds are about equal in clips. Every index is in exactly one fold.
    """
    speakers: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        speakers.setdefault(record.video_id, []).append(i)
    if len(speakers) < k:
        raise range_error(Source(IN_PYTHON), "teacher.oof_folds", k, _folds_allowed(records))
    rng = np.random.default_rng(seed)
    groups = [speakers[v] for v in rng.permutation(sorted(speakers))]
    groups.sort(key=len, reverse=True)  # stable: ties keep the shuffled order
    folds: list[list[int]] = [[] for _ in range(k)]
    for group in groups:
        min(folds, key=len).extend(group)
    return [sorted(fold) for fold in folds]


def out_of_fold_predictions(
    recipe: Recipe, dataset: SentimentDataset, folder: str | Path, progress: bool = True
) -> list[dict[str, Any]]:
    """Out-of-fold r_T for every training clip: ``teacher.oof_folds`` teachers, each trained
    (the recipe's own training, selection on the valid split) without one speaker-disjoint
    fold, predict that fold. Teachers go to ``folder/fold_<k>``; a finished fold is reused.

    Returns:
        One prediction row (as :func:`prediction_rows`) per training clip, in split order.
    """
    folder = Path(folder)
    train = dataset.split("train")
    rows: dict[str, dict[str, Any]] = {}
    folds = speaker_folds(train, recipe.teacher.oof_folds, recipe.seed)
    for k, fold in enumerate(folds):
        held_out = {train[i].uid for i in fold}
        fold_dir = folder / f"fold_{k}"
        with main_process_first():  # (one that lacks an output is reopened by the first)
            finished = confirm_finished(fold_dir, "teacher")
        if not finished:
            subset = SentimentDataset(
                [r for r in dataset.records if r.uid not in held_out],
                dataset.source,
                dataset.video_report,
            )
            train_teacher(recipe, subset, fold_dir, progress)
        loaded = _load_for_prediction(fold_dir / "best", recipe)
        for row in _predict_records(loaded, [train[i] for i in fold], "train", progress):
            rows[row["uid"]] = {**row, "fold": k}
    return [rows[r.uid] for r in train]


def add_transfer_predictions(
    predictions_file: str | Path,
    teacher_dir: str | Path,
    transfer: TransferSet,
    recipe: Recipe,
    progress: bool = True,
    inputs_file: str | Path | None = None,
) -> int:
    """Add the r_T of every ``transfer`` clip that ``predictions_file`` lacks; return how many.

    With an ``inputs_file`` (JSON: each transfer clip's :func:`clip_input_stamp` when it was
    predicted) a clip whose transcript or video changed since, or that it does not record, is
    predicted again: its old row would be a stale target. The file is rewritten atomically
    with its old rows first. The teacher runs only on the clips to predict, so a pool grown
    later costs only its new clips.
    """
    with open(predictions_file, newline="", encoding="utf-8") as handle:
        rows: list[dict[str, Any]] = list(csv.DictReader(handle))
    current = {r.uid: clip_input_stamp(r) for r in transfer.records}
    made_from: dict[str, str] = {}
    if inputs_file is not None:
        made_from = read_json(inputs_file) if Path(inputs_file).is_file() else {}
        stale = {uid for uid, stamp in current.items() if made_from.get(uid) != stamp}
        rows = [r for r in rows if not (r.get("split") == UNLABELLED and r["uid"] in stale)]
    known = {row["uid"] for row in rows}
    todo = [r for r in transfer.records if r.uid not in known]
    if todo:
        loaded = _load_for_prediction(teacher_dir, recipe)
        rows.extend(_predict_records(loaded, todo, UNLABELLED, progress))
        run_on_main(write_predictions, predictions_file, rows)
    if inputs_file is not None and any(made_from.get(u) != s for u, s in current.items()):
        run_on_main(write_json, inputs_file, {**made_from, **current})
    return len(todo)


def clip_input_stamp(record: ClipRecord) -> str:
    """A short hash of what the teacher reads of one clip: its transcript and its video's
    size and modification time."""
    text = json.dumps([record.text, video_stamp(record.video_path)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class _Predictor:
    teacher: VideoAdviserTeacher
    tokenizers: TeacherTokenizers
    recipe: Recipe
    sampling: FrameSampling
    accelerator: Accelerator  # shares the clips out over the processes and gathers the outputs


def _load_for_prediction(teacher_dir: str | Path, recipe: Recipe) -> _Predictor:
    """A saved teacher on this process's device, with the recipe it was trained with. Every
    process must call it (and predict) together; each runs a share of the clips."""
    teacher, tokenizers, config = load_teacher(teacher_dir)
    saved, sampling = saved_settings(config)
    saved.cache_dir, saved.data.video_policy = recipe.cache_dir, recipe.data.video_policy
    accelerator = make_accelerator()
    return _Predictor(teacher.to(accelerator.device), tokenizers, saved, sampling, accelerator)


def _predict_records(
    loaded: _Predictor,
    records: list[ClipRecord],
    split: str,
    progress: bool,
    chunk: int = PREDICT_CHUNK,
) -> list[dict[str, Any]]:
    """Prediction rows for ``records``, ``chunk`` clips in memory at a time."""
    rows: list[dict[str, Any]] = []
    for start in range(0, len(records), chunk):
        part = records[start : start + chunk]
        inputs = prepare_inputs(loaded.teacher, loaded.tokenizers, part, loaded.recipe, progress)
        outputs = run_teacher(
            loaded.teacher,
            inputs,
            loaded.sampling,
            PREDICT_BATCH_SIZE,
            loaded.accelerator,
            progress=progress,
        )
        rows.extend(prediction_rows(split, inputs, *outputs))
    return rows
