"""The main job, ``videoadviser run``: teacher -> predictions -> distilled and baseline students.

For each seed: train the teacher, write its predictions for every clip (and every clip of the
unlabelled transfer set, if the recipe has one), train the student with distillation (the
recipe's lambda2) and without (lambda2 = 0), and, with a transfer set, with distillation on
labelled plus unlabelled clips; evaluate all on the test split with the MMSA metrics. Then
aggregate over seeds, compare each distilled student with the baseline (relative MAE change, a
clip bootstrap, a seed-and-clip bootstrap, ASO) and write everything to the run folder:

    results.json   every metric of every model, seed and split, the comparison, timings
    results.csv    one row per (model, seed), test metrics
    summary.csv    one row per model, test metrics as mean and std over seeds
    report.html    tables and figures of all of it, self-contained (:mod:`videoadviser.report`)
    recipe.json    the resolved recipe; run_info.json: seeds, version, git revision, machine

Every stage writes atomically and a finished stage is skipped when the same folder is run
again, so an interrupted run resumes (the teacher also resumes mid-training).
"""

from __future__ import annotations

import csv
import logging
import statistics
import time
from collections.abc import Sized
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.config import IN_PYTHON, Recipe, Source, check_seeds, validate_recipe
from videoadviser.data.clips import videos_fingerprint
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.data.demo import (
    DEMO_ROOT,
    demo_manifest,
    demo_profile,
    make_demo_dataset,
    make_demo_pool,
)
from videoadviser.data.records import SPLITS, ClipRecord, records_fingerprint
from videoadviser.data.unlabelled import TransferSet, check_no_overlap, load_unlabelled
from videoadviser.errors import ConfigError, DataError
from videoadviser.evaluation.metrics import REGRESSION_METRIC_KEYS
from videoadviser.evaluation.significance import (
    aso_epsilon_min,
    paired_bootstrap,
    seed_clip_bootstrap_mae,
)
from videoadviser.student.model import check_student_checkpoints
from videoadviser.student.trainer import train_student
from videoadviser.teacher.predict import (
    add_transfer_predictions,
    check_oof_folds,
    out_of_fold_predictions,
    predict_teacher,
)
from videoadviser.teacher.trainer import (
    PREDICTIONS_FILE,
    check_teacher_checkpoints,
    train_teacher,
    write_predictions,
)
from videoadviser.utils.io import write_csv, write_json
from videoadviser.utils.lanes import SideLane, lanes_help, side_lane
from videoadviser.utils.ownership import RUN_FOLDER, RUN_MARKER, claim_folder, run_kind
from videoadviser.utils.runtime import (
    default_run_dir,
    is_main_process,
    main_process_first,
    process_state,
    resolve_precision,
    run_info,
    run_on_main,
    wait_for_everyone,
)
from videoadviser.utils.stage import check_stages, claim_stage, make_stamp, reuse_or_run

logger = logging.getLogger(__name__)

MODELS = ("teacher", "student_distilled", "student_baseline", "student_transfer")
LABELS = {
    "teacher": "Teacher (video + transcript)",
    "student_distilled": "Student, distilled (text only)",
    "student_baseline": "Student, no distillation (text only)",
    "student_transfer": "Student, distilled with {n} unlabelled clips (text only)",
}
# each distilled student against the baseline: (model, what the comparison is called)
COMPARISONS = (
    ("student_distilled", "paper setting: labelled clips only"),
    ("student_transfer", "with the unlabelled transfer set"),
)
TABLE_COLUMNS = (
    ("MAE", "MAE"),
    ("Corr", "Corr"),
    ("Acc-2 Has0", "Has0_acc_2"),
    ("Acc-2 Non0", "Non0_acc_2"),
    ("F1 Non0", "Non0_F1_score"),
    ("Acc-7", "Mult_acc_7"),
)


RECIPE_FILE = RUN_MARKER  # a run folder's marker: the recipe it was run with


def is_run_recipe(content: Any) -> bool:
    """Whether a ``recipe.json`` is a ``videoadviser run`` recipe (the mark of a run folder)."""
    return run_kind(content) == RUN_FOLDER


def with_demo_profile(recipe: Recipe, profile: str) -> Recipe:
    """``recipe`` on the embedded profile ``profile``, made on first use at ``data/demo``
    (the default profile) or ``data/demo-<profile>``, with an unlabelled pool there when the
    recipe has one."""
    demo_profile(profile)  # an unknown name is an error that lists the profiles
    path = DEMO_ROOT if profile == "mosi" else f"{DEMO_ROOT}-{profile}"
    unlabelled = f"{path}/unlabelled" if recipe.data.unlabelled else ""
    data = replace(
        recipe.data, make_demo=True, demo_profile=profile, path=path, unlabelled=unlabelled
    )
    return replace(recipe, data=data)


def check_checkpoints(recipe: Recipe, source: Source | None = None) -> None:
    """The values whose range the teacher's and the student's checkpoints decide, read from
    their configs and tokenizers before any work (:func:`check_teacher_checkpoints`,
    :func:`check_student_checkpoints`)."""
    check_teacher_checkpoints(recipe, source)
    check_student_checkpoints(recipe, source)


def check_demo_profile(path: Path, profile: str) -> None:
    """Refuse an embedded dataset at ``path`` that another profile made."""
    made = demo_manifest(path).get("profile")
    if made is not None and made != profile:
        raise DataError(
            f"{path}: holds the embedded {made!r} profile, but the recipe asks for {profile!r} "
            f"(data.demo_profile); point data.path elsewhere, or pass --profile {made}"
        )


def prepare_dataset(recipe: Recipe, progress: bool = True) -> SentimentDataset:
    """Load the recipe's dataset, making the embedded one first if asked to and absent."""
    path = Path(recipe.data.path)
    with main_process_first():  # one process makes it; the others then find it
        if recipe.data.make_demo and not path.exists():
            make_demo_dataset(path, demo_profile(recipe.data.demo_profile), progress=progress)
    if recipe.data.make_demo:
        check_demo_profile(path, recipe.data.demo_profile)
    if not path.exists():
        raise ConfigError(
            f"data.path {str(path)!r} does not exist: point --data at an MMSA folder or pickle, "
            f"or make the embedded dataset there with `videoadviser data make-demo {path}`"
        )
    return load_dataset(path, recipe.data.video_policy, recipe.data.raw_root, progress=progress)


def prepare_transfer(
    recipe: Recipe, dataset: SentimentDataset, progress: bool = True
) -> TransferSet | None:
    """The recipe's transfer set (making the embedded pool first if asked to), checked against
    the labelled data, or ``None`` when the recipe has none."""
    data = recipe.data
    if not data.unlabelled:
        return None
    path = Path(data.unlabelled)
    if data.make_demo and data.demo_unlabelled > 0:
        with main_process_first():
            config = demo_profile(data.demo_profile)
            make_demo_pool(path, config, data.demo_unlabelled, progress=progress)
    transfer = load_unlabelled(path, data.video_policy, progress, limit=data.unlabelled_limit)
    check_no_overlap(dataset, transfer)
    return transfer


def clips_videos(records: list[ClipRecord]) -> str:
    """The fingerprint of the videos of ``records`` (size and modification time of each), so
    that a stage that read them is not reused after one is replaced or edited."""
    return videos_fingerprint((r.uid, r.video_path) for r in records)


def teacher_stamp(recipe: Recipe, dataset: SentimentDataset) -> dict[str, Any]:
    """What a teacher stage depends on: the teacher recipe (out-of-fold targets included: they
    rewrite its predictions file), the seed, frame sampling, the labelled clips and their
    videos, the precision it runs in and the number of processes (the batch a step sees)."""
    return make_stamp(
        kind="teacher",
        seed=recipe.seed,
        teacher=asdict(recipe.teacher),
        precision=resolve_precision(recipe.teacher.mixed_precision),
        processes=process_state().num_processes,
        frames={"num_frames": recipe.data.num_frames, "video_policy": recipe.data.video_policy},
        dataset=records_fingerprint(dataset.records),
        videos=clips_videos(dataset.records),
    )


# in a teacher stage: what each transfer clip's r_T was predicted from (a changed clip is
# predicted again)
TRANSFER_INPUTS_FILE = "transfer_inputs.json"
DISTILLATION_ONLY = ("lambda2", "distill_loss", "soft_weight", "temperature")


def student_stamp(
    recipe: Recipe,
    dataset: SentimentDataset,
    lambda2: float,
    teacher: dict[str, Any] | None,
    transfer: TransferSet | None = None,
) -> dict[str, Any]:
    """What a student stage depends on: the student recipe, lambda2, the seed, the labelled
    clips, the precision and the number of processes, and, when it distils, the teacher's
    stamp and the transfer set with its videos (the baseline's stamp leaves every
    distillation setting out)."""
    distils = lambda2 > 0
    settings = recipe.student.resolved(with_transfer_set=distils and transfer is not None)
    student = settings.settings()
    if not distils:
        student = {k: v for k, v in student.items() if k not in DISTILLATION_ONLY}
    return make_stamp(
        kind="student",
        seed=recipe.seed,
        student=student,
        lambda2=lambda2,
        precision=resolve_precision(settings.mixed_precision),
        processes=process_state().num_processes,
        dataset=records_fingerprint(dataset.records),
        teacher=teacher["hash"] if distils and teacher is not None else None,
        transfer={
            "clips": records_fingerprint(transfer.records),
            "videos": clips_videos(transfer.records),
        }
        if distils and transfer
        else None,
    )


def use_out_of_fold_targets(
    recipe: Recipe, dataset: SentimentDataset, folder: Path, predictions: Path, progress: bool
) -> None:
    """Replace the training clips' r_T in ``predictions`` by out-of-fold ones (once); the
    in-sample value stays in column ``r_T_in_sample``."""
    with open(predictions, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "r_T_in_sample" in rows[0]:
        return
    oof = {r["uid"]: r for r in out_of_fold_predictions(recipe, dataset, folder, progress)}
    for row in rows:
        row["r_T_in_sample"] = row["r_T"]
        row["fold"] = ""
        if row["uid"] in oof:
            new = oof[row["uid"]]
            row.update({k: v for k, v in new.items() if k == "r_T" or k.startswith("logit_")})
            row["fold"] = new["fold"]
    run_on_main(write_predictions, predictions, rows)


def teacher_stage(
    recipe: Recipe,
    dataset: SentimentDataset,
    folder: Path,
    progress: bool = True,
    transfer: TransferSet | None = None,
    overwrite: bool = False,
) -> tuple[dict[str, Any], dict[str, float], dict[str, Any]]:
    """The teacher of one seed (``folder/teacher``, reused when finished) and its predictions
    file ``folder/teacher_predictions.csv``: every labelled clip, out-of-fold r_T for the
    training clips when ``teacher.oof_folds`` >= 2, and every ``transfer`` clip.

    Returns:
        The teacher's metrics per split, the seconds each step took, and its stamp.

    Raises:
        ConfigError: ``folder/teacher`` was made from another recipe or data (and not
            ``overwrite``).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    predictions = folder / PREDICTIONS_FILE
    stamp = teacher_stamp(recipe, dataset)
    teacher = reuse_or_run(
        folder / "teacher",
        lambda: train_teacher(
            recipe, dataset, folder / "teacher", progress, predictions_file=predictions
        ),
        stamp,
        overwrite,
    )
    if not predictions.is_file():  # removed since the teacher finished
        predict_teacher(folder / "teacher" / "best", dataset, recipe, predictions, progress)
    timings["teacher"] = time.perf_counter() - started
    if recipe.teacher.oof_folds >= 2:
        started = time.perf_counter()
        with main_process_first():  # the fold teachers of this teacher
            claim_stage(folder / "teacher_oof", stamp, overwrite)
        use_out_of_fold_targets(recipe, dataset, folder / "teacher_oof", predictions, progress)
        timings["teacher_oof"] = time.perf_counter() - started
    if transfer is not None:
        started = time.perf_counter()
        added = add_transfer_predictions(
            predictions,
            folder / "teacher" / "best",
            transfer,
            recipe,
            progress,
            inputs_file=folder / "teacher" / TRANSFER_INPUTS_FILE,
        )
        timings["teacher_unlabelled"] = time.perf_counter() - started
        logger.info("teacher labelled %d unlabelled clips", added)
    return teacher["metrics"], timings, stamp


def student_stage(
    recipe: Recipe,
    dataset: SentimentDataset,
    folder: Path,
    name: str,
    lambda2: float,
    transfer: TransferSet | None,
    made_by: dict[str, Any] | None,
    overwrite: bool,
    progress: bool,
) -> dict[str, Any]:
    """One student of one seed (``folder/<name>``, reused when finished): its metrics per
    split and the seconds the stage took. Runs here or on the side lane."""
    started = time.perf_counter()
    stage = folder / student_folder(name, transfer)
    result = reuse_or_run(
        stage,
        lambda: train_student(
            recipe, dataset, stage, folder / PREDICTIONS_FILE, lambda2, progress, transfer=transfer
        ),
        student_stamp(recipe, dataset, lambda2, made_by, transfer),
        overwrite,
    )
    return {"metrics": result["metrics"], "seconds": time.perf_counter() - started}


StudentPlan = tuple[float, TransferSet | None, dict[str, Any] | None]  # (lambda2, pool, teacher)


def seed_students(
    recipe: Recipe, transfer: TransferSet | None, made_by: dict[str, Any]
) -> dict[str, StudentPlan]:
    """The students of one seed, by name: the lambda2 each trains with, its transfer set and
    the stamp of the teacher it learns from (``made_by``; ``None`` for the baseline)."""
    stages: dict[str, StudentPlan] = {
        "student_distilled": (recipe.student.lambda2, None, made_by),
        "student_baseline": (0.0, None, None),
    }
    if transfer is not None:
        lambda2 = recipe.student.resolved(with_transfer_set=True).lambda2
        stages["student_transfer"] = (lambda2, transfer, made_by)
    return stages


def planned_stages(
    recipe: Recipe,
    dataset: SentimentDataset,
    out: Path,
    seeds: list[int],
    transfer: TransferSet | None = None,
) -> list[tuple[Path, dict[str, Any]]]:
    """Every stage folder a run over ``seeds`` writes in ``out``, with the stamp it is
    claimed with, in the order they run: each seed's teacher, its fold teachers
    (``teacher.oof_folds`` >= 2) and its students."""
    plan = []
    for seed in seeds:
        seeded, folder = replace(recipe, seed=seed), out / f"seed_{seed}"
        stamp = teacher_stamp(seeded, dataset)
        plan.append((folder / "teacher", stamp))
        if recipe.teacher.oof_folds >= 2:
            plan.append((folder / "teacher_oof", stamp))
        for name, (lambda2, pool, made) in seed_students(seeded, transfer, stamp).items():
            student = student_stamp(seeded, dataset, lambda2, made, pool)
            plan.append((folder / student_folder(name, pool), student))
    return plan


def run_seed(
    recipe: Recipe,
    dataset: SentimentDataset,
    folder: Path,
    progress: bool = True,
    transfer: TransferSet | None = None,
    overwrite: bool = False,
    lane: SideLane | None = None,
) -> dict[str, Any]:
    """Teacher, its predictions, the distilled, baseline (and transfer-set) students for one
    seed; ``overwrite`` retrains stages made from other inputs instead of stopping.

    With a side ``lane`` the students train side by side after the teacher (which keeps every
    thread): the last of them here (the transfer-set student, the longest, or else the
    baseline), the others there. Without one, one after another."""
    teacher, timings, made_by = teacher_stage(
        recipe, dataset, folder, progress, transfer, overwrite
    )
    stages = seed_students(recipe, transfer, made_by)
    students: dict[str, dict[str, Any]] = {}
    if lane is None:
        for name, (lambda2, pool, made) in stages.items():
            students[name] = student_stage(
                recipe, dataset, folder, name, lambda2, pool, made, overwrite, progress
            )
    else:
        # every stage folder is claimed here first, so one made from other inputs stops the
        # run before anything trains (as it does without the lane)
        for name, (lambda2, pool, made) in stages.items():
            stamp = student_stamp(recipe, dataset, lambda2, made, pool)
            claim_stage(folder / student_folder(name, pool), stamp, overwrite)
        *there, here = stages
        with lane.beside():
            pending = [
                lane.submit(
                    str(folder / name),
                    student_stage,
                    *(recipe, dataset, folder, name, *stages[name], False, False),
                )
                for name in there
            ]
            students[here] = student_stage(
                recipe, dataset, folder, here, *stages[here], False, progress
            )
            for name, stage in zip(there, pending, strict=True):
                if progress:
                    logger.info("waiting for %s on the side lane", stage.name)
                students[name] = stage.result()
    out: dict[str, Any] = {"teacher": teacher}
    for name in ("student_distilled", "student_baseline", "student_transfer"):
        if name in students:
            out[name] = students[name]["metrics"]
            timings[name] = students[name]["seconds"]
    out["timings"] = timings
    return out


def student_folder(name: str, transfer: Sized | None = None) -> str:
    """A student stage's folder name; a transfer-set student's names its pool size, so a run
    folder never reuses a student trained on another pool."""
    return f"{name}_{len(transfer)}" if transfer is not None else name


def clip_errors(path: Path, column: str, test: list[ClipRecord]) -> np.ndarray:
    """Absolute errors of the ``column`` predictions in the CSV ``path`` on the ``test``
    records, in their order: ``(N,)``."""
    with open(path, newline="", encoding="utf-8") as handle:
        values = {row["uid"]: float(row[column]) for row in csv.DictReader(handle)}
    missing = [r.uid for r in test if r.uid not in values]
    if missing:
        raise DataError(
            f"{path}: no {column} for {len(missing)} test clips (first: {missing[0]!r})"
        )
    return np.abs(np.array([values[r.uid] for r in test]) - np.array([r.label for r in test]))


def model_errors(folder: Path, model: str, stage: str, test: list[ClipRecord]) -> np.ndarray:
    """One model's absolute test errors for one seed's ``folder``: the teacher's from the
    predictions file, a student's from its ``stage``'s ``predictions.csv``: ``(N,)``."""
    if model == "teacher":
        return clip_errors(folder / PREDICTIONS_FILE, "r_T", test)
    return clip_errors(folder / stage / "predictions.csv", "r_S", test)


def compare(errors_a: np.ndarray, errors_b: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """System a against system b from their ``(S, N)`` test errors (S seeds, N clips).

    ``relative_mae_change_percent`` (positive = a better), the clip bootstrap over
    seed-averaged errors, the seed-and-clip bootstrap, ASO's epsilon_min over per-seed MAE,
    and the seeds on which a had the lower MAE.
    """
    mae_a, mae_b = errors_a.mean(axis=1), errors_b.mean(axis=1)
    base = float(mae_b.mean())
    return {
        "relative_mae_change_percent": 100.0 * (base - float(mae_a.mean())) / base,
        "paired_bootstrap": paired_bootstrap(
            errors_a.mean(axis=0), errors_b.mean(axis=0), seed=seed
        ),
        "seed_clip_bootstrap": seed_clip_bootstrap_mae(errors_a, errors_b, seed=seed),
        "aso_epsilon_min": aso_epsilon_min(mae_a, mae_b, seed=seed),
        "seeds_better": int((mae_a < mae_b).sum()),
    }


def run_experiment(
    recipe: Recipe,
    out_dir: str | Path | None = None,
    seeds: list[int] | None = None,
    progress: bool = True,
    overwrite: bool = False,
    parallel_stages: bool | None = None,
    source: Source | None = None,
) -> dict[str, Any]:
    """The whole main job; returns (and writes) the results.

    ``parallel_stages``: train the stages that do not wait for each other in two processes
    (:mod:`videoadviser.utils.lanes`); ``None``: where that helps (one process on a CPU).
    ``source``: where the recipe's values came from (:func:`load_recipe_and_source`), so that
    a value refused by its checkpoints or its data blames the file or the ``--set`` that gave
    it; default: a recipe built in Python.

    Re-run on the same ``out_dir``, finished stages are reused and an interrupted one resumes;
    a stage made by another recipe or data stops the run, unless ``overwrite`` (retrain it).
    """
    # every value is checked before any work: a bad one costs nothing and leaves nothing
    validate_recipe(recipe, source or IN_PYTHON)
    check_checkpoints(recipe, source)
    seeds = check_seeds(seeds or [recipe.seed])
    out = Path(out_dir) if out_dir else default_run_dir(recipe.name)
    claim_folder(out, RECIPE_FILE, is_run_recipe, RUN_FOLDER)  # before any work
    started = time.perf_counter()
    dataset = prepare_dataset(recipe, progress)
    check_oof_folds(recipe, dataset, source)  # (the values the data decides)
    transfer = prepare_transfer(recipe, dataset, progress)
    # every stage folder of every seed, before any trains: a user's file or a stage of another
    # kind in the last one stops the run before the first has cost anything (every process
    # checks the same folders, and none is claimed before all have)
    check_stages(planned_stages(recipe, dataset, out, seeds, transfer), overwrite)
    wait_for_everyone()
    run_on_main(write_json, out / RECIPE_FILE, recipe.to_dict())  # once the data is there
    per_seed: dict[int, dict[str, Any]] = {}
    with side_lane(lanes_help() if parallel_stages is None else parallel_stages) as lane:
        # (an explicit True where the lane cannot work, under torchrun or on a GPU: a warning
        # and one stage after another)
        for seed in seeds:
            per_seed[seed] = run_seed(
                replace(recipe, seed=seed),
                dataset,
                out / f"seed_{seed}",
                progress,
                transfer,
                overwrite,
                lane,
            )
    models = [m for m in MODELS if m in per_seed[seeds[0]]]

    stage_pool = {m: transfer if m == "student_transfer" else None for m in models}
    test = dataset.split("test")
    errors = {
        m: np.stack(
            [
                model_errors(out / f"seed_{s}", m, student_folder(m, stage_pool[m]), test)
                for s in seeds
            ]
        )
        for m in models
    }
    summary = {m: _summarise([per_seed[s][m]["test"] for s in seeds]) for m in models}
    comparisons = {
        m: {"name": name, **compare(errors[m], errors["student_baseline"], seed=seeds[0])}
        for m, name in COMPARISONS
        if m in models
    }
    teacher_mae = {
        split: _summarise([per_seed[s]["teacher"][split] for s in seeds])["MAE"] for split in SPLITS
    }
    results = {
        "recipe": recipe.name,
        "dataset": dataset.summary(),
        "unlabelled": transfer.summary() if transfer is not None else None,
        "seeds": seeds,
        "models": models,
        "per_seed": {str(s): v for s, v in per_seed.items()},
        "summary_test": summary,
        "teacher_mae_by_split": teacher_mae,
        "comparisons": comparisons,
        "seconds": time.perf_counter() - started,
    }
    if is_main_process():
        write_results(out, results, per_seed, models, seeds, summary)
        from videoadviser.report import write_report  # it reads this module's run layout

        write_report(out)
    wait_for_everyone()
    results["out_dir"] = str(out)
    return results


def write_results(
    out: Path,
    results: dict[str, Any],
    per_seed: dict[int, dict[str, Any]],
    models: list[str],
    seeds: list[int],
    summary: dict[str, Any],
) -> None:
    """The run folder's result files: results.json, results.csv, summary.csv, run_info.json."""
    write_json(out / "results.json", results)
    rows = [{"model": m, "seed": s, **per_seed[s][m]["test"]} for m in models for s in seeds]
    write_csv(out / "results.csv", rows, ["model", "seed", *REGRESSION_METRIC_KEYS])
    summary_rows = [
        {
            "model": m,
            **{
                f"{k}_{stat}": summary[m][k][stat]
                for k in REGRESSION_METRIC_KEYS
                for stat in ("mean", "std")
            },
        }
        for m in models
    ]
    write_csv(out / "summary.csv", summary_rows, list(summary_rows[0]))
    write_json(out / "run_info.json", run_info(seeds))


def _summarise(metrics: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for key in REGRESSION_METRIC_KEYS:
        values = [m[key] for m in metrics]
        out[key] = {
            "mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        }
    return out


def model_label(model: str, results: dict[str, Any]) -> str:
    """The table's name for ``model`` (the transfer row says how many unlabelled clips)."""
    unlabelled = results.get("unlabelled") or {}
    return LABELS[model].format(n=unlabelled.get("clips", 0))


def format_table(results: dict[str, Any]) -> str:
    """The comparison table printed at the end of ``videoadviser run`` (test split)."""
    seeds = results["seeds"]
    multi = len(seeds) > 1
    header = ["Model (test split)"] + [name for name, _ in TABLE_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in results["models"]:
        cells = []
        for _, key in TABLE_COLUMNS:
            stat = results["summary_test"][model][key]
            cells.append(
                f"{stat['mean']:.4f} +/- {stat['std']:.4f}" if multi else f"{stat['mean']:.4f}"
            )
        lines.append(f"| {model_label(model, results)} | " + " | ".join(cells) + " |")
    n_test = results["dataset"]["splits"]["test"]
    mae = results["teacher_mae_by_split"]
    lines += [
        "",
        f"Seeds: {', '.join(map(str, seeds))}. Teacher MAE train / valid / test: "
        f"{mae['train']['mean']:.4f} / {mae['valid']['mean']:.4f} / {mae['test']['mean']:.4f} "
        "(train is in-sample unless teacher.oof_folds is set).",
    ]
    for model, comparison in results["comparisons"].items():
        boot, both = comparison["paired_bootstrap"], comparison["seed_clip_bootstrap"]
        aso = comparison["aso_epsilon_min"]
        aso_text = f"{aso:.3f}" if aso is not None else "n/a (needs 2+ seeds)"
        lines.append(
            f"{model_label(model, results)} vs no distillation ({comparison['name']}): "
            f"MAE change {comparison['relative_mae_change_percent']:+.1f}% (positive = "
            f"distilled better), better in {comparison['seeds_better']} of {len(seeds)} seeds. "
            f"Bootstrap over {n_test} test clips: delta MAE {boot['delta']:+.4f} "
            f"[95% CI {boot['ci_low']:+.4f}, {boot['ci_high']:+.4f}], p = {boot['p_value']:.4f}; "
            f"over seeds and clips: p = {both['p_value']:.4f}; ASO epsilon_min = {aso_text}."
        )
    return "\n".join(lines)
