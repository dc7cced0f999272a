"""The ``videoadviser`` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from videoadviser import __version__
from videoadviser.errors import ConfigError, VideoAdviserError

Handler = Callable[[argparse.Namespace], int]
STAGE_OVERWRITE_HELP = (
    "retrain when OUT holds this stage made from another recipe or data (default: stop); "
    "only what videoadviser wrote there is replaced"
)
OVERWRITE_HELP = (
    "replace what an earlier run of this command made there with other settings (never a "
    "file videoadviser did not write: a folder holding one is refused)"
)
FILE_OVERWRITE_HELP = (
    "replace the file at {option} when an earlier run of this command wrote it (recognised by "
    "its header row; default: stop). Any other file there is never replaced, whatever the "
    "flag, nor an input of the command"
)


MAX_DEMO_SPLIT = 100_000  # clips of one split of the embedded dataset (the corpus bounds less)
MAX_CLIPS_PER_CLASS = 10_000  # of the embedded VEGAS-like set (100,000 rendered clips)


def _check_in_range(option: str, value: int, low: int, high: int) -> None:
    """Refuse ``value`` of the command-line ``option`` outside [``low``, ``high``].

    Raises:
        ConfigError: naming the option, the value and the allowed range.
    """
    if not low <= value <= high:
        raise ConfigError(f"{option} {value}: out of range; allowed: {low} to {high:,}")


def _cmd_make_demo(args: argparse.Namespace) -> int:
    from videoadviser.config import MAX_SEED
    from videoadviser.data.demo import (
        UNLABELLED_DIR,
        demo_profile,
        load_tweets,
        make_demo_dataset,
        plan_dataset,
        unused_tweets,
    )
    from videoadviser.errors import DataError

    _check_in_range("--seed", args.seed, 0, MAX_SEED)
    sizes = {"n_train": args.n_train, "n_valid": args.n_valid, "n_test": args.n_test}
    given = {key: value for key, value in sizes.items() if value is not None}
    for key, value in given.items():
        _check_in_range(f"--{key.replace('_', '-')}", value, 1, MAX_DEMO_SPLIT)
    _check_in_range("--unlabelled", args.unlabelled, 0, MAX_DEMO_SPLIT)
    config = demo_profile(args.profile, seed=args.seed, **given)
    if given or args.unlabelled:  # what the tweet corpus allows, before anything is written
        tweets = load_tweets()
        try:
            plan_dataset(config, tweets)
        except DataError as error:
            asked = ", ".join(f"--{k.replace('_', '-')} {getattr(config, k)}" for k in sizes)
            raise ConfigError(f"{asked}: too many clips for the tweet corpus ({error})") from None
        if args.unlabelled:  # the tweets no labelled clip uses (docs/data.md: 26,951)
            _check_in_range("--unlabelled", args.unlabelled, 0, len(unused_tweets(config, tweets)))
    path = make_demo_dataset(
        args.dir,
        config,
        overwrite=args.overwrite,
        progress=not args.quiet,
        unlabelled=args.unlabelled,
    )
    print(f"embedded dataset ready at {path}")
    if args.unlabelled:
        print(f"unlabelled pool of {args.unlabelled} clips ready at {path / UNLABELLED_DIR}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from videoadviser.data.dataset import is_summary_file, load_dataset
    from videoadviser.utils.io import check_output_file, write_json

    if args.json:
        check_output_file(
            args.json,
            "--json",
            kind="a dataset summary of `data check --json`",
            is_kind=is_summary_file,
            overwrite=args.overwrite,
            inputs={"PATH": args.path, "--raw-root": args.raw_root},
        )
    dataset = load_dataset(
        args.path, video_policy=args.video_policy, raw_root=args.raw_root, progress=not args.quiet
    )
    summary = dataset.summary()
    if args.json:
        write_json(args.json, summary)
    shown = {k: v for k, v in summary.items() if k != "videos"}
    shown["videos"] = {k: v for k, v in summary["videos"].items() if k != "bad_files"}  # type: ignore[union-attr]
    print(json.dumps(shown, indent=2))
    return 0


# where --profile puts the data: --set may not name these beside it
PROFILE_PLACES = ("data.path", "data.unlabelled", "data.make_demo", "data.demo_profile")


def _recipe(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The recipe the options give, checked, and where its values came from (a
    :class:`~videoadviser.config.Source`, for the checks that need its checkpoints or data)."""
    from videoadviser.config import load_recipe_and_source, override_key

    overrides = list(args.set or [])
    if getattr(args, "data", None):
        overrides.append(f'data.path="{args.data}"')
        overrides.append("data.make_demo=false")
        overrides.append('data.unlabelled=""')  # another dataset: no pool unless given
    if getattr(args, "unlabelled", None):
        overrides.append(f'data.unlabelled="{args.unlabelled}"')
    if getattr(args, "video_policy", None):
        overrides.append(f'data.video_policy="{args.video_policy}"')
    recipe, source = load_recipe_and_source(args.recipe, overrides)
    if getattr(args, "profile", None):
        from videoadviser.pipeline import with_demo_profile

        placed = [o for o in args.set or [] if override_key(o) in PROFILE_PLACES]
        if args.data or getattr(args, "unlabelled", None) or placed:
            raise ConfigError(
                "--profile uses an embedded dataset and its own pool; --data and --unlabelled "
                f"(or --set {', '.join(PROFILE_PLACES)}) name others: give one or the other"
            )
        recipe = with_demo_profile(recipe, args.profile)
    return recipe, source


def _train_stage(
    args: argparse.Namespace, stamp: dict[str, object], train: Callable[[], dict[str, object]]
) -> dict[str, object]:
    """A standalone stage (``teacher train``, ``student train``) in ``--out``, claimed as
    ``run`` claims its stage folders: the stamp is written, and a user's files, another stage
    kind, or other inputs without --overwrite stop it. A finished stage with this very stamp
    is reused unless --restart; else ``train()`` runs. Returns its best epoch and metrics."""
    from videoadviser.utils.io import read_json
    from videoadviser.utils.runtime import is_main_process, main_process_first
    from videoadviser.utils.stage import DONE_FILE, claim_stage

    existed = args.out.exists()
    with main_process_first():
        finished = claim_stage(args.out, stamp, args.overwrite)
        if finished and args.restart and is_main_process():
            (args.out / DONE_FILE).unlink()  # it is trained again: no longer finished
    if finished and not args.restart:
        print(
            f"reused the finished stage in {args.out} (same recipe and data; "
            "--restart trains it again)"
        )
        return {"metrics": read_json(args.out / DONE_FILE)}
    with _unclaimed_if_refused(args.out, existed):
        result = train()
    return {"best_epoch": result["best_epoch"], "metrics": result["metrics"]}


@contextmanager
def _unclaimed_if_refused(out: Path, existed: bool) -> Iterator[None]:
    """A stage that stops before it wrote anything but its stamp (its inputs refused) leaves
    ``out`` as it found it: a refused command writes nothing. Under torchrun every process
    meets the same refusal; the main process alone (which wrote the stamp) cleans up, so the
    others never race it and the refusal is what every process reports."""
    from videoadviser.utils.runtime import is_main_process
    from videoadviser.utils.stage import STAMP_FILE

    try:
        yield
    except BaseException:
        if is_main_process() and out.is_dir() and [p.name for p in out.iterdir()] == [STAMP_FILE]:
            (out / STAMP_FILE).unlink(missing_ok=True)
            if not existed:
                with suppress(FileNotFoundError):
                    out.rmdir()
        raise


def _cmd_teacher_train(args: argparse.Namespace) -> int:
    from videoadviser.pipeline import prepare_dataset, teacher_stamp
    from videoadviser.teacher.trainer import check_teacher_checkpoints, train_teacher
    from videoadviser.utils.ownership import check_folder_path

    check_folder_path(args.out, "--out")
    recipe, source = _recipe(args)
    check_teacher_checkpoints(recipe, source)
    dataset = prepare_dataset(recipe, progress=not args.quiet)
    metrics = _train_stage(
        args,
        teacher_stamp(recipe, dataset),
        lambda: train_teacher(
            recipe, dataset, args.out, progress=not args.quiet, resume=not args.restart
        ),
    )
    print(json.dumps(metrics, indent=2))
    print(f"teacher checkpoint: {args.out / 'best'}")
    return 0


def _cmd_teacher_predict(args: argparse.Namespace) -> int:
    from videoadviser.pipeline import prepare_dataset, prepare_transfer
    from videoadviser.teacher.predict import predict_teacher
    from videoadviser.teacher.trainer import check_predictions_file

    inputs = {"--data": args.data, "--unlabelled": args.unlabelled, "--recipe": args.recipe}
    check_predictions_file(args.out, args.overwrite, inputs, option="--out")
    recipe, _ = _recipe(args)
    dataset = prepare_dataset(recipe, progress=not args.quiet)
    transfer = prepare_transfer(recipe, dataset, progress=not args.quiet)
    rows = predict_teacher(
        args.teacher,
        dataset,
        recipe,
        args.out,
        progress=not args.quiet,
        transfer=transfer,
        overwrite=args.overwrite,
    )
    print(f"wrote {len(rows)} teacher predictions to {args.out}")
    return 0


def _cmd_student_train(args: argparse.Namespace) -> int:
    import hashlib

    from videoadviser.errors import DataError
    from videoadviser.pipeline import prepare_dataset, prepare_transfer, student_stamp
    from videoadviser.student.model import check_student_checkpoints
    from videoadviser.student.trainer import resolved_lambda2, train_student
    from videoadviser.utils.ownership import check_folder_path

    check_folder_path(args.out, "--out")
    recipe, source = _recipe(args)
    check_student_checkpoints(recipe, source)
    dataset = prepare_dataset(recipe, progress=not args.quiet)
    transfer = prepare_transfer(recipe, dataset, progress=not args.quiet)
    lambda2 = resolved_lambda2(recipe, args.lambda2, transfer)
    teacher = None  # the teacher a distilled student learns from: its predictions file
    if lambda2 > 0:
        given = args.teacher_predictions
        if given is None or not given.is_file():
            raise DataError(
                f"distillation (lambda2 = {lambda2:g}) needs --teacher-predictions, the CSV "
                "that `videoadviser teacher predict` wrote"
                + (f"; {given} is not a file" if given is not None else "")
            )
        teacher = {"hash": hashlib.sha256(given.read_bytes()).hexdigest()[:16]}
    metrics = _train_stage(
        args,
        student_stamp(recipe, dataset, lambda2, teacher, transfer),
        lambda: train_student(
            recipe,
            dataset,
            args.out,
            args.teacher_predictions,
            args.lambda2,
            not args.quiet,
            transfer=transfer,
            resume=not args.restart,
        ),
    )
    print(json.dumps(metrics, indent=2))
    print(f"exported student: {args.out / 'best'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from videoadviser.student.texts import (
        SCORE_COLUMN,
        check_scores_file,
        read_texts,
        scored_columns,
    )
    from videoadviser.student.trainer import predict_texts
    from videoadviser.utils.io import write_csv

    given = read_texts(args.text, args.file, args.csv, args.text_column)
    columns = scored_columns(given)  # (the input's columns, then the score's)
    if args.out:  # before the model is loaded
        check_scores_file(args.out, given, args.overwrite, {"--file": args.file, "--csv": args.csv})
    model = args.model
    if args.backend == "torch":
        from videoadviser.student.export import find_student

        model = find_student(model)
    scores = predict_texts(model, given.texts, backend=args.backend)
    for row, score in zip(given.rows, scores):
        row[SCORE_COLUMN] = round(float(score), 4)
    if args.out:
        write_csv(args.out, given.rows, columns)
        print(f"wrote {len(given.rows)} predictions to {args.out}")
    else:
        for text, score in zip(given.texts, scores):
            print(f"{score:+.4f}\t{text}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from videoadviser.student.export import export_onnx, find_student
    from videoadviser.student.trainer import METADATA_FILE
    from videoadviser.utils.io import read_json

    if not args.onnx:
        raise ConfigError("choose an export format: --onnx (the only one today)")
    stage = f"student_{args.student}" if args.student else None
    model_dir = find_student(args.source, seed=args.seed, stage=stage)
    out = export_onnx(model_dir, args.out, int8=args.int8)
    difference = read_json(out / METADATA_FILE)["onnx"]["max_abs_difference"]
    print(f"exported {model_dir} to {out}")
    print(f"largest |ONNX - PyTorch| on the check texts: {difference:.2e}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from videoadviser.config import check_seeds
    from videoadviser.pipeline import format_table, run_experiment
    from videoadviser.utils.runtime import is_main_process

    if args.seeds:
        check_seeds(args.seeds, "--seeds")
    recipe, source = _recipe(args)
    results = run_experiment(
        recipe,
        args.out,
        args.seeds,
        progress=not args.quiet,
        overwrite=args.overwrite,
        parallel_stages=args.parallel_stages,
        source=source,
    )
    if not is_main_process():  # under torchrun / accelerate launch, one process reports
        return 0
    print()
    print(format_table(results))
    print(
        f"\nresults written to {results['out_dir']} (results.json, results.csv, summary.csv, "
        "report.html)"
    )
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from videoadviser.report import write_report

    print(f"wrote {write_report(args.run_dir)}")
    return 0


def _cmd_retrieval_run(args: argparse.Namespace) -> int:
    from videoadviser.config import check_seeds
    from videoadviser.retrieval.config import load_retrieval_recipe
    from videoadviser.retrieval.pipeline import format_retrieval_table, run_retrieval

    if args.seeds:
        check_seeds(args.seeds, "--seeds")
    overrides = list(args.set or [])
    if args.data is not None:
        overrides += [f"data.path={json.dumps(str(args.data))}", "data.make_demo=false"]
    if args.videos is not None:
        overrides.append(f"data.videos={json.dumps(str(args.videos))}")
    if args.folds_file is not None:
        overrides.append(f"data.folds_file={json.dumps(str(args.folds_file))}")
    if args.seeds:
        overrides.append(f"seeds={json.dumps(args.seeds)}")
    recipe = load_retrieval_recipe(args.recipe, overrides)
    results = run_retrieval(
        recipe, args.out, args.teacher_outputs, progress=not args.quiet, overwrite=args.overwrite
    )
    print()
    print(format_retrieval_table(results))
    print(f"\nresults written to {results['out_dir']} (results.json, results.csv, summary.csv)")
    return 0


def _cmd_retrieval_make_demo(args: argparse.Namespace) -> int:
    from videoadviser.config import MAX_SEED
    from videoadviser.retrieval.demo import VegasDemoConfig, make_vegas_demo

    _check_in_range("--clips-per-class", args.clips_per_class, 1, MAX_CLIPS_PER_CLASS)
    _check_in_range("--seed", args.seed, 0, MAX_SEED)
    path = make_vegas_demo(
        args.dir,
        VegasDemoConfig(clips_per_class=args.clips_per_class, seed=args.seed),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"embedded VEGAS-like set ready at {path} (the per-video layout and videos beside it)")
    return 0


def _add_recipe_options(
    parser: argparse.ArgumentParser, data: bool = True, unlabelled: bool = False
) -> None:
    parser.add_argument(
        "--recipe", default="demo", help="packaged recipe name (demo, mosi, mosei) or a .toml path"
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a recipe value, e.g. --set teacher.epochs=5 (repeatable)",
    )
    if data:
        parser.add_argument(
            "--data",
            type=Path,
            default=None,
            help="dataset (MMSA raw folder or .pkl); overrides data.path",
        )
        parser.add_argument(
            "--video-policy",
            choices=("error", "skip", "blank"),
            default=None,
            help="missing/corrupt videos",
        )
        parser.add_argument(
            "--profile",
            default=None,
            metavar="NAME",
            help="use the embedded dataset of this profile (made on first use, with the "
            "recipe's unlabelled pool: mosi at the recipe's data.path, others at "
            "data/demo-PROFILE)",
        )
    if unlabelled:
        parser.add_argument(
            "--unlabelled",
            type=Path,
            default=None,
            metavar="DIR",
            help="transfer set: unlabelled clips (MMSA raw layout, label.csv with "
            "video_id,clip_id,text + Raw/) that the teacher labels for the student; "
            "overrides data.unlabelled (with --data, no pool is used unless this is given)",
        )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videoadviser",
        description="Distil a multimodal CLIP video teacher into a text-only student "
        "(VideoAdviser).",
    )
    parser.add_argument("--version", action="version", version=f"videoadviser {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="make, inspect and check datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    demo = data_commands.add_parser(
        "make-demo",
        help="write the embedded dataset (MMSA raw layout) to DIR",
        description="Write the embedded dataset: real tweets as transcripts, rendered talking "
        "faces as mp4 video, MOSI-like labels and splits (--profile mosei: MOSEI-like). "
        "Deterministic under --seed.",
    )
    demo.add_argument(
        "dir", type=Path, help="output folder (created; reused if made with the same settings)"
    )
    demo.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    demo.add_argument(
        "--profile",
        default="mosi",
        metavar="NAME",
        help="mosi (default): MOSI-like; mosei: MOSEI-like (positive-leaning, faces agree "
        "less and weigh less, noisy transcripts, 3 annotators, longer and larger clips)",
    )
    demo.add_argument("--n-train", type=int, help="training clips (default: the profile's)")
    demo.add_argument("--n-valid", type=int, help="validation clips (default: the profile's)")
    demo.add_argument("--n-test", type=int, help="test clips (default: the profile's)")
    demo.add_argument(
        "--unlabelled",
        type=int,
        default=0,
        metavar="N",
        help="also write an unlabelled pool (transfer set) of N clips to DIR/unlabelled; its "
        "tweets are never in the labelled splits (default 0: none)",
    )
    demo.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_cmd_make_demo)

    check = data_commands.add_parser(
        "check",
        help="load a dataset under a video policy and print a summary",
        description="Read an MMSA raw-layout folder or processed pickle, check every label and "
        "video, and print the split sizes and what happened to bad videos.",
    )
    check.add_argument("path", type=Path, help="MMSA raw-layout folder, or processed .pkl file")
    add_video_policy(check)
    check.add_argument(
        "--raw-root", type=Path, default=None, help="raw-layout folder with a pickle's videos"
    )
    check.add_argument(
        "--json", type=Path, default=None, help="also write the summary (with bad files) here"
    )
    check.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the file at --json when an earlier `data check --json` wrote it "
        "(default: stop); any other file there is never replaced, whatever the flag",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    check.set_defaults(handler=_cmd_check)

    run = commands.add_parser(
        "run",
        help="the main job: teacher, distilled and baseline students, comparison table",
        description="Make (or reuse) the dataset and its unlabelled pool, train the teacher, "
        "write its predictions (labelled and unlabelled clips), train the distilled student "
        "(paper setting), the student distilled with the unlabelled clips too, and the "
        "no-distillation baseline, evaluate all on the test split (MMSA metrics) and print the "
        "table and both comparisons. Results go to --out as JSON/CSV; running the same --out "
        "again resumes, and stops if a finished stage there was made by another recipe or "
        "dataset (--overwrite retrains such stages).",
    )
    _add_recipe_options(run, unlabelled=True)
    run.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds, each an independent run: distinct integers >= 0 (default: the recipe's)",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="run folder (default runs/<recipe>-<time>)"
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain the stages in --out that another recipe or dataset made (default: stop)",
    )
    run.add_argument(
        "--parallel-stages",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the teacher, train the students side by side in two processes of half "
        "the threads each (default: on when there is no GPU, one process and two or more "
        "threads, where it is faster; never under torchrun or on a GPU)",
    )
    run.set_defaults(handler=_cmd_run)

    report = commands.add_parser(
        "report",
        help="write a run's report.html again (tables and figures)",
        description="Write RUN_DIR/report.html from the files a finished `videoadviser run` left: "
        "the comparison table for every model and seed, significance, training curves and loss "
        "terms, predicted-against-true scatters, 7-class confusion matrices, and the transfer "
        "curve and inference cost when the folder has them. One self-contained file: figures "
        "are inlined, nothing is fetched when it is opened.",
    )
    report.add_argument("run_dir", type=Path, help="a run folder (with results.json)")
    report.set_defaults(handler=_cmd_report)

    teacher = commands.add_parser("teacher", help="train the teacher or write its predictions")
    teacher_commands = teacher.add_subparsers(
        dest="teacher_command", required=True, metavar="ACTION"
    )
    t_train = teacher_commands.add_parser(
        "train",
        help="train the CLIP-based teacher (step 1)",
        description="Train the teacher on the train split, select on validation MAE, write "
        "OUT/best (safetensors + JSON + tokenizer), metrics.json and history.csv. An interrupted "
        "run continues from OUT/last unless --restart. OUT is stamped as `run` stamps its "
        "teacher (stage.json): the same command again reuses a finished teacher, other "
        "settings stop unless --overwrite.",
    )
    _add_recipe_options(t_train)
    t_train.add_argument("--out", type=Path, default=Path("runs/teacher"), help="output folder")
    t_train.add_argument("--restart", action="store_true", help="ignore OUT/last and start afresh")
    t_train.add_argument("--overwrite", action="store_true", help=STAGE_OVERWRITE_HELP)
    t_train.set_defaults(handler=_cmd_teacher_train)
    t_pred = teacher_commands.add_parser(
        "predict",
        help="write r_T and logits for every clip",
        description="Run a trained teacher on every clip of every split and write one CSV "
        "(uid, split, label, has_video, r_T, logit_0..K-1) for the student step.",
    )
    _add_recipe_options(t_pred, unlabelled=True)
    t_pred.add_argument(
        "--teacher", type=Path, required=True, help="teacher checkpoint folder (OUT/best)"
    )
    t_pred.add_argument(
        "--out",
        type=Path,
        default=Path("runs/teacher_predictions.csv"),
        help="CSV to write (a new file, or one an earlier `teacher predict` wrote, with "
        "--overwrite)",
    )
    t_pred.add_argument(
        "--overwrite", action="store_true", help=FILE_OVERWRITE_HELP.format(option="--out")
    )
    t_pred.set_defaults(handler=_cmd_teacher_predict)

    student = commands.add_parser("student", help="train the text-only student")
    student_commands = student.add_subparsers(
        dest="student_command", required=True, metavar="ACTION"
    )
    s_train = student_commands.add_parser(
        "train",
        help="fine-tune the student with distillation step 2",
        description="Loss L1(r_S, y) + lambda2 * MSE(r_S, r_T), r_T read from the teacher's "
        "predictions CSV; with --unlabelled, the transfer set's clips add the distillation term "
        "alone. --lambda2 0 trains the no-distillation baseline. OUT/best is a plain "
        "transformers model (AutoModelForSequenceClassification, one regression output). An "
        "interrupted run continues from OUT/last (its last validation) unless --restart. OUT "
        "is stamped as `run` stamps its students: the same command again reuses a finished "
        "student, other settings stop unless --overwrite.",
    )
    _add_recipe_options(s_train, unlabelled=True)
    s_train.add_argument(
        "--teacher-predictions", type=Path, default=None, help="CSV from teacher predict"
    )
    s_train.add_argument(
        "--lambda2",
        type=non_negative_float,
        default=None,
        help="override the recipe's lambda2 (>= 0; 0: the no-distillation baseline)",
    )
    s_train.add_argument("--out", type=Path, default=Path("runs/student"), help="output folder")
    s_train.add_argument("--restart", action="store_true", help="ignore OUT/last and start afresh")
    s_train.add_argument("--overwrite", action="store_true", help=STAGE_OVERWRITE_HELP)
    s_train.set_defaults(handler=_cmd_student_train)

    predict = commands.add_parser(
        "predict",
        help="score texts with a trained student",
        description="Sentiment in about [-3, 3] for each text, from an exported student. "
        "Give the texts one way: as arguments, --file (one text a line) or --csv. Every input "
        "row gets exactly one output row, in order; an empty text (or a blank line) is refused, "
        "naming its line, as the dataset loader refuses an empty transcript.",
    )
    predict.add_argument("--model", type=Path, required=True, help="exported student folder")
    predict.add_argument("text", nargs="*", help="texts to score")
    predict.add_argument(
        "--file", type=Path, default=None, help="text file (UTF-8), one text per line"
    )
    predict.add_argument(
        "--csv", type=Path, default=None, help="CSV file (UTF-8) with a text column"
    )
    predict.add_argument(
        "--text-column", default="text", help="the CSV's text column (default text)"
    )
    predict.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="torch: a student folder (or a run, stage or seed folder: its student); "
        "onnx: a folder written by `videoadviser export --onnx` (default torch)",
    )
    predict.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write a CSV instead of printing: the input's columns (text for texts and --file) "
        "and videoadviser_score (a CSV that has one already is refused); a new file, or one "
        "an earlier `predict` wrote for the same columns, with --overwrite",
    )
    predict.add_argument(
        "--overwrite", action="store_true", help=FILE_OVERWRITE_HELP.format(option="--out")
    )
    predict.set_defaults(handler=_cmd_predict)

    export = commands.add_parser(
        "export",
        help="export a trained student for serving (ONNX, optionally int8)",
        description="Write an ONNX model of a trained student, with its tokenizer, to a folder "
        "that `videoadviser predict --backend onnx --model FOLDER` reads. --int8 applies ONNX "
        "Runtime's dynamic int8 quantisation. The export is checked against PyTorch on sample "
        "texts and the largest difference is printed.",
    )
    export.add_argument(
        "source",
        type=Path,
        metavar="RUN_OR_MODEL",
        help="a student folder (with config.json), a student stage folder, or a run or seed "
        "folder (its transfer-set student if it has one, else the paper-setting student)",
    )
    export.add_argument("--onnx", action="store_true", help="write ONNX (the export format)")
    export.add_argument("--int8", action="store_true", help="dynamic int8 quantisation")
    export.add_argument("--seed", type=int, default=None, help="in a run folder: which seed")
    export.add_argument(
        "--student",
        choices=("transfer", "distilled", "baseline"),
        default=None,
        help="in a run or seed folder: which student (default transfer, else distilled)",
    )
    export.add_argument(
        "--out", type=Path, default=None, help="output folder (default: onnx[-int8] beside it)"
    )
    export.set_defaults(handler=_cmd_export)
    _add_retrieval_commands(commands)
    return parser


def _add_retrieval_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    retrieval = commands.add_parser(
        "retrieval", help="audio-visual cross-modal retrieval (VEGAS) with VideoAdviser"
    )
    actions = retrieval.add_subparsers(dest="retrieval_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="baseline and +VideoAdviser retrieval over folds and seeds; prints the table",
        description="With no arguments: make the embedded VEGAS-like set once, train one video "
        "teacher per fold, train the baseline and +VideoAdviser retrieval models for every "
        "fold and seed, print mAP (A->V, V->A, mean) and the comparison, and write "
        "results.json, results.csv and summary.csv to the run folder.",
    )
    run.add_argument("--recipe", default="retrieval", help="packaged recipe name or a .toml path")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a recipe value, e.g. --set model.epochs=40 (repeatable)",
    )
    run.add_argument(
        "--data",
        type=Path,
        default=None,
        help="features: a packed vegas_feature.h5, or a per-video folder (labels.csv, audio/, "
        "visual/ with uint8 .npy per clip)",
    )
    run.add_argument(
        "--videos",
        type=Path,
        default=None,
        help="folder of <clip_id>.mp4 for the teacher (default: videos/ beside the features)",
    )
    run.add_argument(
        "--teacher-outputs",
        type=Path,
        default=None,
        help="teacher logits (HDF5: clip_id, logits) made elsewhere, e.g. from the real "
        "videos; no teacher is trained and no video is read",
    )
    run.add_argument(
        "--folds-file",
        type=Path,
        default=None,
        help="CSV clip_id,fold (default: class-balanced folds)",
    )
    run.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="override the seeds: distinct integers >= 0",
    )
    run.add_argument(
        "--out", type=Path, default=None, help="run folder (default runs/<name>-<time>)"
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain stages of OUT made from other inputs instead of stopping",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_cmd_retrieval_run)

    demo = actions.add_parser(
        "make-demo",
        help="write the embedded VEGAS-like set (mp4 with audio, features, vegas_feature.h5)",
    )
    demo.add_argument(
        "dir", type=Path, help="output folder (created; reused if made with the same settings)"
    )
    demo.add_argument("--clips-per-class", type=int, default=50, help="default 50")
    demo.add_argument("--seed", type=int, default=2023, help="generation seed (default 2023)")
    demo.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_cmd_retrieval_make_demo)


def non_negative_float(text: str) -> float:
    """An option's value that must be a finite number >= 0 (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is out of range; allowed: a number >= 0")
    return value


def add_video_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--video-policy",
        choices=("error", "skip", "blank"),
        default="error",
        help="missing/corrupt videos: error (list them all and stop; default), skip (drop the "
        "rows), blank (keep the rows, transcript only)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)  # -q: only the results and warnings
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        from videoadviser.utils.runtime import quiet_other_libraries

        quiet_other_libraries()
    handler: Handler = args.handler
    try:
        return handler(args)
    except VideoAdviserError as error:
        print(f"videoadviser: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("videoadviser: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as error:
        if not out_of_memory(error):
            raise
        said = (str(error).splitlines() or [type(error).__name__])[0]
        print(f"videoadviser: error: {OUT_OF_MEMORY} ({said})", file=sys.stderr)
        return 1


OUT_OF_MEMORY = (
    "out of memory. Lower what a step holds: the batch size (--set teacher.batch_size=8, "
    "--set student.batch_size=8) or the frames per clip (--set data.num_frames=4), or use a "
    "device with more memory; finished stages are kept"
)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the host or an accelerator running out of memory: Python's
    MemoryError, torch's OutOfMemoryError (CUDA, MPS) or its CPU allocator's failure."""
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.OutOfMemoryError):
        return True
    return "can't allocate memory" in str(error)  # torch's DefaultCPUAllocator


if __name__ == "__main__":
    sys.exit(main())
