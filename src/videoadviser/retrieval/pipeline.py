"""``videoadviser retrieval run``: baseline and +VideoAdviser retrieval over folds and seeds.

1. Data: the features (packed ``vegas_feature.h5`` or per-video folder); the embedded
   VEGAS-like set is made first when the recipe points at it and it is not there.
2. Folds: class-balanced k folds (or the user's). In fold f the test clips are fold f; a
   class-balanced share of the rest is the validation set (model selection), the remainder the
   training set.
3. Teacher: one video teacher per fold, trained on that fold's training clips
   (:mod:`videoadviser.retrieval.teacher`), or the user's ``--teacher-outputs``.
4. Retrieval models: for every fold and seed, the baseline (``lambda = 0``) and +VideoAdviser
   (the recipe's ``[distill]``), the same architecture and training otherwise; mAP on the
   fold's test clips (A->V, V->A, mean) and every test query's AP.
5. Summary: mean +/- std over folds x seeds; the difference in mAP points; ASO over the
   per-(fold, seed) mAP and a paired bootstrap over queries (each clip's AP as a query, both
   directions averaged, then averaged over seeds).

The run folder (every stage stamped and reused when run again, as in ``videoadviser run``)::

    teacher/teacher_outputs.h5, teacher/metrics.json
    fold_<f>/seed_<s>/<baseline|videoadviser>/{model.safetensors, metrics.json, queries.csv}
    results.json, results.csv (one row per model, fold, seed), summary.csv, recipe.json,
    run_info.json
"""

from __future__ import annotations

import csv
import hashlib
import logging
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from videoadviser.data.clips import videos_fingerprint
from videoadviser.errors import ConfigError
from videoadviser.evaluation.metrics import average_precisions
from videoadviser.evaluation.significance import aso_epsilon_min, paired_bootstrap
from videoadviser.retrieval.config import RetrievalRecipe, validate_retrieval_recipe
from videoadviser.retrieval.demo import (
    PACKED_FILE,
    VIDEOS_DIR,
    VegasDemoConfig,
    make_vegas_demo,
    remake_command,
)
from videoadviser.retrieval.teacher import (
    TEACHER_FILE,
    build_retrieval_teacher,
    predict_logits,
    read_teacher_outputs,
    train_fold_teacher,
    video_inputs,
    write_teacher_outputs,
)
from videoadviser.retrieval.trainer import RetrievalTraining, embed, train_retrieval
from videoadviser.retrieval.vegas import (
    RetrievalSet,
    balanced_folds,
    holdout,
    read_folds,
    read_retrieval_set,
)
from videoadviser.utils.checkpoint import save_checkpoint
from videoadviser.utils.io import write_csv, write_json
from videoadviser.utils.ownership import (
    RETRIEVAL_CHECKPOINT,
    RETRIEVAL_RUN_FOLDER,
    RUN_MARKER,
    VEGAS_SET,
    check_complete,
    claim_folder,
    product_kind,
    run_kind,
)
from videoadviser.utils.runtime import default_run_dir, run_info, torch_threads
from videoadviser.utils.stage import REUSE, check_stages, make_stamp, plan_stage, reuse_or_run

logger = logging.getLogger(__name__)

MODELS = ("baseline", "videoadviser")
LABELS = {
    "baseline": "Baseline (label space + cross-triplet)",
    "videoadviser": "+VideoAdviser (same model, teacher term in training)",
}
METRICS = ("mAP_A2V", "mAP_V2A", "mAP_mean")
STATS = ("mean", "std")
MODEL_KIND = "retrieval model"  # a model stage's kind (its stamp's)


def prepare_retrieval_data(recipe: RetrievalRecipe, progress: bool = True) -> RetrievalSet:
    """Read the recipe's features, making the embedded set first if asked to and absent."""
    path = Path(recipe.data.path)
    demo = VegasDemoConfig(clips_per_class=recipe.data.demo_clips_per_class)
    if recipe.data.make_demo and not path.exists() and path.name == PACKED_FILE:
        make_vegas_demo(path.parent, demo, progress=progress)
    embedded = recipe.data.make_demo and path.name == PACKED_FILE
    if embedded and product_kind(path.parent) == VEGAS_SET:  # the recipe's set, made earlier:
        check_complete(path.parent, remake_command(path.parent, demo))  # a file deleted since?
    data = read_retrieval_set(path)
    names = recipe.data.class_names
    if names:
        if len(names) != data.num_classes or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(
                f"data.class_names: {len(names)} names for the {data.num_classes} classes of "
                f"{path}; give one non-empty name per class, in label order"
            )
        data.class_names = list(names)
    return data


def fold_split(
    recipe: RetrievalRecipe, data: RetrievalSet
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per fold: (train rows, valid rows, test rows), each sorted."""
    cfg = recipe.data
    if cfg.folds_file:
        folds = read_folds(cfg.folds_file, data.clip_ids)
    else:
        folds = balanced_folds(data.labels, cfg.folds, cfg.fold_seed)
    out = []
    for f in range(int(folds.max()) + 1):
        rest = np.flatnonzero(folds != f)
        valid = holdout(rest, data.labels, cfg.valid_share, cfg.fold_seed + f)
        out.append((rest[~valid], rest[valid], np.flatnonzero(folds == f)))
    return out


def videos_folder(recipe: RetrievalRecipe) -> Path:
    """Where the teacher finds ``<clip_id>.mp4``: ``data.videos``, else ``videos/`` beside a
    packed file or inside a per-video folder."""
    if recipe.data.videos:
        return Path(recipe.data.videos)
    path = Path(recipe.data.path)
    return (path if path.is_dir() else path.parent) / VIDEOS_DIR


def _data_stamp(
    data: RetrievalSet, splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """What a stage read: the features, labels, clip ids, class names and every fold's rows
    (contents, not paths: an edited folds file is a change, a moved data folder is not)."""
    digest = hashlib.sha256()
    for array in (data.audio, data.visual, data.labels, *[r for split in splits for r in split]):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("\0".join(data.clip_ids).encode())
    digest.update("\0".join(data.class_names).encode())
    return {"hash": digest.hexdigest()[:16], "clips": len(data), "folds": len(splits)}


def _videos_stamp(data: RetrievalSet, videos: Path) -> str:
    """Size and modification time of every clip's video (a changed video is a change)."""
    return videos_fingerprint((c, videos / f"{c}.mp4") for c in data.clip_ids)


TEACHER_STAGE = "teacher"  # the teacher stage's folder in a retrieval run folder


def teacher_stamp(
    recipe: RetrievalRecipe,
    data: RetrievalSet,
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """What the teacher stage depends on: the teacher recipe, the data and folds, the videos
    and the first seed."""
    return make_stamp(
        kind="retrieval teacher",
        teacher=asdict(recipe.teacher),
        data=_data_stamp(data, splits),
        videos=_videos_stamp(data, videos_folder(recipe)),
        seed=recipe.seeds[0],
    )


def teacher_stage(
    recipe: RetrievalRecipe,
    data: RetrievalSet,
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    out: Path,
    progress: bool,
    overwrite: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Train one teacher per fold (or reuse the finished stage): logits ``(F, N, K)``."""
    folder = out / TEACHER_STAGE
    videos = videos_folder(recipe)
    stamp = teacher_stamp(recipe, data, splits)

    def run() -> dict[str, Any]:
        seed = recipe.seeds[0]
        if all(name == f"class {i}" for i, name in enumerate(data.class_names)):
            logger.warning(
                "%s has no class names, so the teacher's prompts say 'class 0' ... and carry "
                "no meaning for a pretrained CLIP; give them with --set data.class_names=[...]",
                data.source,
            )
        # fold 0's teacher also computes the video inputs all folds share
        teacher = build_retrieval_teacher(recipe.teacher, data.class_names, recipe.cache_dir, seed)
        inputs = video_inputs(teacher, data, videos, recipe.teacher, recipe.cache_dir, progress)
        logits = np.full((len(splits), len(data), data.num_classes), np.nan, dtype=np.float32)
        folds = []
        for f, (train, valid, test) in enumerate(
            tqdm(splits, desc="teachers", disable=not progress)
        ):
            if f > 0:
                teacher = build_retrieval_teacher(
                    recipe.teacher, data.class_names, recipe.cache_dir, seed, init_seed=seed + f
                )
            metrics = train_fold_teacher(
                teacher,
                inputs,
                data.labels,
                train,
                valid,
                recipe.teacher,
                seed + f,
                stage=f"retrieval teacher, fold {f}",
            )
            predicted = predict_logits(teacher, inputs)
            test_accuracy = float((predicted[test].argmax(1) == data.labels[test]).mean())
            folds.append({"fold": f, **metrics, "test_accuracy": test_accuracy})
            seen = np.concatenate([train, valid])
            logits[f, seen] = predicted[seen]  # the fold's test clips stay NaN: never used
        write_teacher_outputs(folder / TEACHER_FILE, data.clip_ids, logits, data.class_names)
        summary = {
            "folds": folds,
            "test_accuracy_mean": statistics.mean(f["test_accuracy"] for f in folds),
        }
        write_json(folder / "metrics.json", summary)
        return {"metrics": summary}

    result = reuse_or_run(folder, run, stamp, overwrite)
    return read_teacher_outputs(folder / TEACHER_FILE, data, splits), result["metrics"]


def model_settings(recipe: RetrievalRecipe, model: str) -> RetrievalTraining:
    """The training settings of ``model``: the recipe's, with the ``[distill]`` term for
    +VideoAdviser."""
    if model != "videoadviser":
        return recipe.model
    distill = recipe.distill
    return replace(
        recipe.model, lambda_distill=distill.lambda_distill, temperature=distill.temperature
    )


def model_stamp(
    recipe: RetrievalRecipe,
    model: str,
    seed: int,
    data_hash: dict[str, Any],
    teacher_hash: str,
) -> dict[str, Any]:
    """What one model stage depends on: its settings, seed and data, and for +VideoAdviser
    the teacher's outputs (``teacher_hash``)."""
    return make_stamp(
        kind=MODEL_KIND,
        model=asdict(model_settings(recipe, model)),
        seed=seed,
        data=data_hash,
        teacher=teacher_hash if model == "videoadviser" else None,
    )


def model_folder(out: Path, fold: int, seed: int, model: str) -> Path:
    """One model stage's folder in the run folder ``out``."""
    return out / f"fold_{fold}" / f"seed_{seed}" / model


def planned_stages(
    recipe: RetrievalRecipe,
    data: RetrievalSet,
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    out: Path,
    teacher_hash: str | None,
    with_teacher: bool = True,
) -> list[tuple[Path, dict[str, Any] | str]]:
    """Every stage folder the run writes in ``out`` with its stamp: the teacher (unless its
    outputs are given), then each fold's, seed's and model's. A +VideoAdviser model learns
    from the teacher's outputs: while they are still to be made (``teacher_hash`` ``None``)
    it is given by its kind (:func:`~videoadviser.utils.stage.check_stages`)."""
    plan: list[tuple[Path, dict[str, Any] | str]] = []
    if with_teacher:
        plan.append((out / TEACHER_STAGE, teacher_stamp(recipe, data, splits)))
    data_hash = _data_stamp(data, splits)
    for f in range(len(splits)):
        for seed in recipe.seeds:
            for model in MODELS:
                known = teacher_hash is not None or model != "videoadviser"
                stamp = model_stamp(recipe, model, seed, data_hash, teacher_hash or "")
                plan.append((model_folder(out, f, seed, model), stamp if known else MODEL_KIND))
    return plan


def model_stage(
    recipe: RetrievalRecipe,
    data: RetrievalSet,
    split: tuple[np.ndarray, np.ndarray, np.ndarray],
    teacher_logits: np.ndarray | None,
    model: str,
    seed: int,
    folder: Path,
    teacher_hash: str,
    data_hash: dict[str, Any],
    overwrite: bool,
) -> dict[str, Any]:
    """Train (or reuse) one retrieval model of one fold and seed; its test mAP and query APs."""
    settings = model_settings(recipe, model)
    train, valid, test = split
    stamp = model_stamp(recipe, model, seed, data_hash, teacher_hash)

    def run() -> dict[str, Any]:
        trained = train_retrieval(
            data, train, valid, settings, seed, teacher_logits, stage=f"retrieval {folder}"
        )
        audio, visual = embed(trained.model, data, test)
        labels = data.labels[test]
        a2v = average_precisions(audio, labels, visual, labels)
        v2a = average_precisions(visual, labels, audio, labels)
        metrics = {
            "mAP_A2V": float(a2v.mean()),
            "mAP_V2A": float(v2a.mean()),
            "mAP_mean": float((a2v.mean() + v2a.mean()) / 2),
            "best_epoch": trained.best_epoch,
            "best_valid_mAP": trained.best_valid_map,
        }
        save_checkpoint(
            folder / "model",
            dict(trained.model.state_dict()),
            {"architecture": asdict(trained.model.arch), "settings": asdict(settings)},
            kind=RETRIEVAL_CHECKPOINT,
        )
        write_csv(
            folder / "queries.csv",
            [
                {"clip_id": data.clip_ids[i], "ap_a2v": float(x), "ap_v2a": float(y)}
                for i, x, y in zip(test, a2v, v2a)
            ],
            ["clip_id", "ap_a2v", "ap_v2a"],
        )
        write_csv(folder / "history.csv", trained.history, list(trained.history[0]))
        write_json(folder / "metrics.json", metrics)
        return {"metrics": metrics}

    return reuse_or_run(folder, run, stamp, overwrite)["metrics"]


def _mean_std(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean and std (0 for one run) over ``runs`` of each test metric and of the validation
    mAP that selection kept (``best_valid_mAP``, what recipe choices are made on)."""
    out = {}
    for key in (*METRICS, "best_valid_mAP"):
        values = [r[key] for r in runs]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[key] = {"mean": statistics.mean(values), "std": std}
    return out


def _query_ap(folder: Path) -> dict[str, float]:
    """Each test query's AP, both directions averaged, from a model stage's ``queries.csv``."""
    with (folder / "queries.csv").open(newline="", encoding="utf-8") as handle:
        return {
            row["clip_id"]: (float(row["ap_a2v"]) + float(row["ap_v2a"])) / 2
            for row in csv.DictReader(handle)
        }


def run_retrieval(
    recipe: RetrievalRecipe,
    out_dir: str | Path | None = None,
    teacher_outputs: str | Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """The whole retrieval experiment; returns (and writes) the results.

    Runs single-threaded (the models are small: a second thread costs more than it gives on a
    CPU); the caller's thread count is restored afterwards.
    """
    validate_retrieval_recipe(recipe)  # before any work: a bad value costs nothing
    with torch_threads(1):
        return _run_retrieval(recipe, out_dir, teacher_outputs, progress, overwrite)


def is_retrieval_recipe(content: Any) -> bool:
    """Whether a ``recipe.json`` is a retrieval recipe (the mark of a retrieval run folder)."""
    return run_kind(content) == RETRIEVAL_RUN_FOLDER


def _teacher_hash(logits: np.ndarray) -> str:
    """A short hash of the teacher's outputs ``(F, N, K)`` (NaN where a fold never serves)."""
    return hashlib.sha256(np.nan_to_num(logits, nan=-1e9).tobytes()).hexdigest()[:16]


def _planned(
    recipe: RetrievalRecipe,
    data: RetrievalSet,
    splits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    out: Path,
    teacher_outputs: str | Path | None,
    overwrite: bool,
) -> list[tuple[Path, dict[str, Any] | str]]:
    """:func:`planned_stages` of this run, with the teacher's outputs hashed when they are
    there already: given, or in a teacher stage that will be reused."""
    outputs = Path(teacher_outputs) if teacher_outputs else None
    if outputs is None:
        teacher = out / TEACHER_STAGE
        if plan_stage(teacher, teacher_stamp(recipe, data, splits), overwrite)[0] == REUSE:
            outputs = teacher / TEACHER_FILE
    known = _teacher_hash(read_teacher_outputs(outputs, data, splits)) if outputs else None
    return planned_stages(recipe, data, splits, out, known, with_teacher=not teacher_outputs)


def _run_retrieval(
    recipe: RetrievalRecipe,
    out_dir: str | Path | None,
    teacher_outputs: str | Path | None,
    progress: bool,
    overwrite: bool,
) -> dict[str, Any]:
    started = time.perf_counter()
    out = Path(out_dir) if out_dir else default_run_dir(recipe.name)
    claim_folder(out, RUN_MARKER, is_retrieval_recipe, RETRIEVAL_RUN_FOLDER)
    data = prepare_retrieval_data(recipe, progress)
    splits = fold_split(recipe, data)
    timings: dict[str, float] = {"data": time.perf_counter() - started}
    data_hash = _data_stamp(data, splits)
    check_stages(_planned(recipe, data, splits, out, teacher_outputs, overwrite), overwrite)
    write_json(out / RUN_MARKER, recipe.to_dict())  # only once every stage may be written
    if teacher_outputs:
        logits = read_teacher_outputs(teacher_outputs, data, splits)
        teacher_metrics: dict[str, Any] = {"source": str(teacher_outputs)}
    else:
        logits, teacher_metrics = teacher_stage(recipe, data, splits, out, progress, overwrite)
    teacher_hash = _teacher_hash(logits)
    timings["teacher"] = time.perf_counter() - started - timings["data"]

    runs = []
    jobs = [(f, s, m) for f in range(len(splits)) for s in recipe.seeds for m in MODELS]
    for f, seed, model in tqdm(jobs, desc="retrieval models", disable=not progress):
        folder = model_folder(out, f, seed, model)
        metrics = model_stage(
            recipe,
            data,
            splits[f],
            logits[f],
            model,
            seed,
            folder,
            teacher_hash,
            data_hash,
            overwrite,
        )
        runs.append({"model": model, "fold": f, "seed": seed, **metrics})
    timings["models"] = time.perf_counter() - started - timings["data"] - timings["teacher"]

    summary = {m: _mean_std([r for r in runs if r["model"] == m]) for m in MODELS}
    per_run = {m: np.array([r["mAP_mean"] for r in runs if r["model"] == m]) for m in MODELS}
    queries = {
        m: [_query_ap(model_folder(out, f, s, m)) for f in range(len(splits)) for s in recipe.seeds]
        for m in MODELS
    }
    per_query = {  # each clip is a test query once per seed: average over seeds
        m: np.array([statistics.mean(q[c] for q in queries[m] if c in q) for c in data.clip_ids])
        for m in MODELS
    }
    comparison = {
        "delta_mAP_points": 100
        * (summary["videoadviser"]["mAP_mean"]["mean"] - summary["baseline"]["mAP_mean"]["mean"]),
        "runs_better": int((per_run["videoadviser"] > per_run["baseline"]).sum()),
        "runs": len(per_run["baseline"]),
        "aso_epsilon_min": aso_epsilon_min(
            per_run["videoadviser"],
            per_run["baseline"],
            seed=recipe.seeds[0],
            higher_is_better=True,
        ),
        "query_bootstrap": paired_bootstrap(
            per_query["videoadviser"], per_query["baseline"], seed=recipe.seeds[0]
        ),
    }
    timings["total"] = time.perf_counter() - started
    results = {
        "recipe": recipe.name,
        "dataset": data.summary(),
        "folds": len(splits),
        "seeds": recipe.seeds,
        "teacher": teacher_metrics,
        "summary_test": summary,
        "comparison": comparison,
        "runs": runs,
        "seconds": timings,
    }
    write_json(out / "results.json", results)
    write_csv(
        out / "results.csv",
        runs,
        ["model", "fold", "seed", *METRICS, "best_epoch", "best_valid_mAP"],
    )
    write_csv(
        out / "summary.csv",
        [
            {"model": m, **{f"{k}_{s}": summary[m][k][s] for k in summary[m] for s in STATS}}
            for m in MODELS
        ],
        ["model", *[f"{k}_{s}" for k in summary["baseline"] for s in STATS]],
    )
    write_json(out / "run_info.json", run_info(recipe.seeds))
    results["out_dir"] = str(out)
    return results


def format_retrieval_table(results: dict[str, Any]) -> str:
    """The table printed by ``videoadviser retrieval run``."""
    lines = ["| Model (test folds) | mAP A->V | mAP V->A | mAP mean |", "|---|---|---|---|"]
    for m in MODELS:
        stats = results["summary_test"][m]
        cells = [f"{stats[k]['mean']:.4f} +/- {stats[k]['std']:.4f}" for k in METRICS]
        lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + " |")
    c = results["comparison"]
    boot = c["query_bootstrap"]
    aso = "n/a (one run)" if c["aso_epsilon_min"] is None else f"{c['aso_epsilon_min']:.3f}"
    teacher = results["teacher"]
    if "test_accuracy_mean" in teacher:
        teacher_line = (
            "Teacher (video frames, one per fold) test accuracy: "
            f"{teacher['test_accuracy_mean']:.3f}."
        )
    else:
        teacher_line = f"Teacher outputs from {teacher.get('source')}."
    valid = {m: results["summary_test"][m]["best_valid_mAP"]["mean"] for m in MODELS}
    lines += [
        "",
        f"{results['folds']} folds x {len(results['seeds'])} seeds "
        f"({', '.join(map(str, results['seeds']))}); {results['dataset']['clips']} clips. "
        f"Validation mAP (what selects): baseline {valid['baseline']:.4f}, +VideoAdviser "
        f"{valid['videoadviser']:.4f}.",
        teacher_line,
        f"+VideoAdviser vs baseline: {c['delta_mAP_points']:+.2f} mAP points (mean of A->V and "
        f"V->A), better in {c['runs_better']} of {c['runs']} (fold, seed) runs; ASO epsilon_min "
        f"= {aso}; paired bootstrap over {results['dataset']['clips']} queries: delta AP "
        f"{boot['delta']:+.4f} [95% CI {boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}], "
        f"p = {boot['p_value']:.4f}.",
    ]
    return "\n".join(lines)
