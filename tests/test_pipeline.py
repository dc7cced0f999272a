"""The main job end to end, driven through the command line as a user would."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from fast_recipe import FAST

from videoadviser.cli import main
from videoadviser.config import Recipe
from videoadviser.errors import ConfigError
from videoadviser.pipeline import run_experiment
from videoadviser.teacher.trainer import is_predictions_file


def test_run_prints_the_table_writes_files_and_resumes(
    tiny_demo: Path,
    tiny_pool: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    data = ["--data", str(tiny_demo), "--unlabelled", str(tiny_pool)]
    args = ["run", *data, "--seeds", "1", "2", "--out", str(out), "-q", *FAST]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| Teacher (video + transcript) |" in printed
    assert "| Student, distilled (text only) |" in printed and "+/-" in printed
    assert "| Student, distilled with 12 unlabelled clips (text only) |" in printed
    assert "(paper setting: labelled clips only): MAE change" in printed
    assert "(with the unlabelled transfer set): MAE change" in printed
    assert printed.count("Bootstrap over 8 test clips") == 2
    assert "over seeds and clips: p = " in printed and "ASO epsilon_min = " in printed
    results = json.loads((out / "results.json").read_text())
    assert results["seeds"] == [1, 2] and results["unlabelled"]["clips"] == 12
    assert set(results["summary_test"]) == {
        "teacher",
        "student_distilled",
        "student_baseline",
        "student_transfer",
    }
    assert set(results["teacher_mae_by_split"]) == {"train", "valid", "test"}
    for comparison in results["comparisons"].values():
        assert 0 <= comparison["aso_epsilon_min"] <= 1
        assert comparison["seed_clip_bootstrap"]["seeds"] == 2
    with open(out / "results.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 8
    with open(out / "seed_1" / "teacher_predictions.csv", newline="") as handle:
        splits = [row["split"] for row in csv.DictReader(handle)]
    assert splits.count("unlabelled") == 12 and splits.count("train") == 24
    info = json.loads((out / "run_info.json").read_text())
    assert info["version"] and info["git_revision"]
    assert json.loads((out / "recipe.json").read_text())["data"]["num_frames"] == 4
    assert (out / "seed_2" / "teacher_predictions.csv").is_file()

    # a second call reuses every finished stage and gives the same table
    stamp = (out / "seed_1" / "student_distilled" / "metrics.json").stat().st_mtime_ns
    assert main(args) == 0
    assert (
        capsys.readouterr().out.split("results written")[0] == printed.split("results written")[0]
    )
    assert (out / "seed_1" / "student_distilled" / "metrics.json").stat().st_mtime_ns == stamp

    # another student recipe on the same folder stops, naming the stage and the change ...
    changed = ["run", *data, "--seeds", "1", "--out", str(out), "-q", *FAST]
    changed += ["--set", "student.lr=1e-4"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert f"{out / 'seed_1' / 'student_distilled'} was made from other inputs" in err
    assert "student.lr (5e-05 -> 0.0001)" in err and "--overwrite" in err
    # ... and --overwrite retrains the students only: the teacher's stamp still matches
    teacher = (out / "seed_1" / "teacher" / "metrics.json").stat().st_mtime_ns
    assert main([*changed, "--overwrite"]) == 0
    capsys.readouterr()
    assert (out / "seed_1" / "teacher" / "metrics.json").stat().st_mtime_ns == teacher
    assert (out / "seed_1" / "student_distilled" / "metrics.json").stat().st_mtime_ns != stamp

    # a standalone `teacher train` into the run's teacher stamps it as the run does: the same
    # settings reuse it, another lr is refused there (the run never trusts weights made so)
    standalone = ["teacher", "train", *data[:2], "--out", str(out / "seed_1" / "teacher")]
    standalone += ["-q", *FAST, "--set", "seed=1"]
    assert main(standalone) == 0 and "reused the finished stage" in capsys.readouterr().out
    assert main([*standalone, "--set", "teacher.lr=0.0002"]) == 2
    assert "teacher.lr (0.001 -> 0.0002)" in capsys.readouterr().err
    assert (out / "seed_1" / "teacher" / "metrics.json").stat().st_mtime_ns == teacher

    # the exported student scores text from the command line
    model = out / "seed_1" / "student_distilled" / "best"
    assert main(["predict", "--model", str(model), "what a lovely day", "this is terrible"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].endswith("what a lovely day")
    float(lines[0].split("\t")[0])
    table = tmp_path / "in.csv"
    table.write_text("id,utterance\n1,great\n2,awful\n")
    scored = tmp_path / "scored.csv"
    assert (
        main(
            [
                "predict",
                "--model",
                str(model),
                "--csv",
                str(table),
                "--text-column",
                "utterance",
                "--out",
                str(scored),
            ]
        )
        == 0
    )
    with open(scored, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == ["1", "2"] and all(r["videoadviser_score"] for r in rows)
    assert main(["predict", "--model", str(model), "--csv", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err


def _r_t(predictions: Path, uid: str) -> str:
    with open(predictions, newline="") as handle:
        return next(row["r_T"] for row in csv.DictReader(handle) if row["uid"] == uid)


def test_a_replaced_video_invalidates_the_stages_that_read_it(
    tiny_demo: Path,
    tiny_pool: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # issue 24: after copying another clip over a video, a run reused the teacher and its
    # predictions (the stamp covered label.csv only)
    monkeypatch.chdir(tmp_path)
    data, pool, out = tmp_path / "data", tmp_path / "pool", tmp_path / "run"
    shutil.copytree(tiny_demo, data)
    shutil.copytree(tiny_pool, pool)
    args = ["run", "--data", str(data), "--unlabelled", str(pool), "--seeds", "1"]
    args += ["--out", str(out), "--no-parallel-stages", "-q", *FAST]
    assert main(args) == 0
    seed = out / "seed_1"
    teacher = (seed / "teacher" / "metrics.json").stat().st_mtime_ns

    pooled = sorted((pool / "Raw").glob("*/*.mp4"))
    uid = f"{pooled[0].parent.name}$_${pooled[0].stem}"
    before = _r_t(seed / "teacher_predictions.csv", uid)
    shutil.copyfile(pooled[1], pooled[0])  # an unlabelled clip: its r_T is a student's target
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    transfer = seed / "student_transfer_12"
    assert f"{transfer} was made from other inputs; changed: transfer.videos (" in err
    # every stage is checked before any work: the refused run changed nothing
    assert _r_t(seed / "teacher_predictions.csv", uid) == before
    # the teacher did not read the pool: it is reused, and predicts the replaced clip again
    assert main([*args, "--overwrite"]) == 0
    assert (seed / "teacher" / "metrics.json").stat().st_mtime_ns == teacher
    assert _r_t(seed / "teacher_predictions.csv", uid) != before
    capsys.readouterr()

    clips = sorted((data / "Raw").glob("*/*.mp4"))
    shutil.copyfile(clips[1], clips[0])  # a labelled clip: the teacher read it
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{seed / 'teacher'} was made from other inputs; changed: videos (" in err
    assert (seed / "teacher" / "metrics.json").stat().st_mtime_ns == teacher  # kept


def test_every_stage_is_checked_before_any_trains_and_an_incomplete_one_runs_again(
    tiny_demo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the re-probe of issue 24: a user's file in a later stage was found only after the
    # teacher had retrained; a stage that lost predictions.csv or its checkpoint was trusted
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "run"
    args = ["run", "--data", str(tiny_demo), "--seeds", "1", "--out", str(out), "-q", *FAST]
    args.append("--no-parallel-stages")
    assert main(args) == 0
    seed = out / "seed_1"
    teacher = seed / "teacher" / "metrics.json"
    trained, metrics = teacher.stat().st_mtime_ns, json.loads(teacher.read_text())

    (seed / "student_distilled" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main([*args, "--set", "teacher.lr=0.0002", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"did not write: {seed / 'student_distilled' / 'notes.txt'}" in err
    assert teacher.stat().st_mtime_ns == trained  # refused before the teacher retrained
    assert (seed / "student_distilled" / "notes.txt").read_text() == "mine"
    (seed / "student_distilled" / "notes.txt").unlink()

    (seed / "student_distilled" / "predictions.csv").unlink()
    (seed / "teacher" / "best" / "model.safetensors").unlink()
    assert main(args) == 0  # both run again: same stamp, the tool's own stages
    assert (seed / "student_distilled" / "predictions.csv").is_file()
    assert (seed / "teacher" / "best" / "model.safetensors").is_file()
    assert json.loads(teacher.read_text()) == metrics  # what the same recipe gives

    # a teacher without its stage.json is still a teacher: no student replaces it
    (seed / "teacher" / "stage.json").unlink()
    capsys.readouterr()
    student = ["student", "train", "--data", str(tiny_demo), "--lambda2", "0", "-q", *FAST]
    assert main([*student, "--out", str(seed / "teacher"), "--overwrite"]) == 2
    assert "holds a teacher stage, so a student cannot go there" in capsys.readouterr().err
    assert (seed / "teacher" / "best" / "model.safetensors").is_file()


def test_bad_recipe_key_is_a_clear_error(
    tiny_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--data", str(tiny_demo), "--set", "teacher.epoch=3"]) == 2
    assert "unknown key(s) epoch" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        (["1", "1"], "--seeds: seed(s) 1 given more than once"),
        (["-5"], "--seeds: seed -5 is out of range; allowed: integers from 0 to 4294967295"),
    ],
)
def test_bad_seeds_stop_the_run_before_any_work(
    tiny_demo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    seeds: list[str],
    message: str,
) -> None:
    # issue 24: --seeds 1 1 counted one run twice ("+/- 0.0000", "better in 2 of 2 seeds");
    # --seeds -5 trained the whole teacher, then a ValueError left a half-made seed_-5/
    out = tmp_path / "run"
    assert main(["run", "--data", str(tiny_demo), "--seeds", *seeds, "--out", str(out), "-q"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("seeds", "message"), [([1, 1], "seeds: seed(s) 1 given more than once"), ([-5], "seed -5")]
)
def test_run_experiment_checks_seeds_and_recipe_before_any_work(
    tiny_recipe: Recipe, tmp_path: Path, seeds: list[int], message: str
) -> None:
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=re.escape(message)):
        run_experiment(tiny_recipe, out, seeds, progress=False)
    tiny_recipe.teacher.lr = -1.0  # a recipe built in Python is checked as a loaded one is
    with pytest.raises(ConfigError, match=re.escape("teacher.lr = -1.0 is out of range")):
        run_experiment(tiny_recipe, out, [1], progress=False)
    assert not out.exists()


def test_set_learning_rate_below_zero_is_refused_before_training(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24: --set teacher.lr=-1 trained, and the run reported a teacher checkpoint
    out = tmp_path / "t"
    command = ["teacher", "train", "--data", str(tiny_demo), "--out", str(out), "-q"]
    assert main([*command, *FAST, "--set", "teacher.lr=-1"]) == 2
    err = capsys.readouterr().err
    assert "--set teacher.lr=-1: teacher.lr = -1.0 is out of range; allowed: > 0" in err
    assert not out.exists()


def test_student_lambda2_below_zero_is_refused_on_every_path(
    tiny_demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 24: student train --lambda2 -1 was accepted while --set student.lambda2=-1 was not
    out = tmp_path / "s"
    command = ["student", "train", "--data", str(tiny_demo), "--out", str(out), "-q", *FAST]
    with pytest.raises(SystemExit) as stop:
        main([*command, "--lambda2", "-1"])
    assert stop.value.code == 2
    assert "argument --lambda2: -1 is out of range; allowed: a number >= 0" in (
        capsys.readouterr().err
    )
    assert main([*command, "--set", "student.lambda2=-1"]) == 2
    assert "student.lambda2 = -1.0 is out of range; allowed: >= 0" in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_folder_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["run", "--data", str(missing), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"data.path '{missing}' does not exist" in err
    assert f"videoadviser data make-demo {missing}" in err
    assert not missing.exists()  # an explicit --data is never generated behind the user's back


def test_student_with_a_pool_needs_the_pools_teacher_predictions(
    tiny_demo: Path, tiny_pool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    teacher = ["teacher", "train", "--data", str(tiny_demo), "--out", str(tmp_path / "t"), "-q"]
    assert main([*teacher, *FAST, "--set", "teacher.epochs=1"]) == 0
    predict = [
        "teacher",
        "predict",
        "--data",
        str(tiny_demo),
        "--teacher",
        str(tmp_path / "t" / "best"),
    ]
    assert main([*predict, "--out", str(tmp_path / "labelled.csv"), "-q", *FAST]) == 0
    assert is_predictions_file(tmp_path / "labelled.csv")  # told by its header row
    assert main([*predict, "--out", str(tmp_path / "labelled.csv"), "-q", *FAST]) == 2
    assert "pass --overwrite to replace it" in capsys.readouterr().err
    student = ["student", "train", "--data", str(tiny_demo), "--unlabelled", str(tiny_pool), "-q"]
    student += ["--out", str(tmp_path / "s"), *FAST]
    capsys.readouterr()
    assert main([*student, "--teacher-predictions", str(tmp_path / "labelled.csv")]) == 2
    err = capsys.readouterr().err
    assert "no teacher prediction for 12 of 12 unlabelled clips" in err
    assert "`videoadviser teacher predict --unlabelled DIR` writes them" in err
    assert not (tmp_path / "s").exists()  # nothing was trained
    full = tmp_path / "all.csv"
    predict += ["--unlabelled", str(tiny_pool), "--out", str(full), "-q", *FAST]
    assert main(predict) == 0
    assert "wrote 52 teacher predictions" in capsys.readouterr().out  # 40 labelled + 12 pool
    transfer = [
        "--set",
        'student.distill_loss="mse"',
        "--set",
        'student.transfer.distill_loss="l1"',
    ]
    assert main([*student, "--teacher-predictions", str(full), *transfer]) == 0
    assert (tmp_path / "s" / "best" / "config.json").is_file()
    # with a pool the student trains with the recipe's [student.transfer] settings
    exported = json.loads((tmp_path / "s" / "best" / "videoadviser_student.json").read_text())
    assert exported["student"]["distill_loss"] == "l1" and "transfer" not in exported["student"]


def test_transfer_settings_stamp_the_transfer_student_only(
    tiny_demo: Path, tiny_pool: Path
) -> None:
    from videoadviser.config import load_recipe
    from videoadviser.data.dataset import load_dataset
    from videoadviser.data.unlabelled import load_unlabelled
    from videoadviser.pipeline import student_stamp

    dataset = load_dataset(tiny_demo, progress=False)
    pool = load_unlabelled(tiny_pool, progress=False)
    teacher = {"hash": "t"}
    plain, tuned = load_recipe("demo"), load_recipe("demo", ["student.transfer.lr=1e-4"])
    for lambda2, transfer in [(0.0, None), (1.0, None)]:
        assert student_stamp(plain, dataset, lambda2, teacher, transfer) == student_stamp(
            tuned, dataset, lambda2, teacher, transfer
        )
    assert student_stamp(plain, dataset, 1.0, teacher, pool) != student_stamp(
        tuned, dataset, 1.0, teacher, pool
    )


def test_side_by_side_and_one_after_another_give_the_same_run(
    tiny_demo: Path, tiny_pool: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tiny_demo), "--unlabelled", str(tiny_pool), "--seeds", "1", "-q"]
    runs = {}
    for flag in ("--parallel-stages", "--no-parallel-stages"):
        out = tmp_path / flag
        assert main(["run", *data, "--out", str(out), flag, *FAST]) == 0
        runs[flag] = json.loads((out / "results.json").read_text())
        folders = sorted(p.name for p in (out / "seed_1").iterdir())
        assert folders == sorted(
            ["teacher", "teacher_predictions.csv", "student_distilled", "student_baseline",
             "student_transfer_12"]
        )  # fmt: skip
    capsys.readouterr()
    lanes, sequential = (runs[f]["per_seed"]["1"] for f in runs)
    assert lanes["teacher"] == sequential["teacher"]  # the teacher keeps every thread
    for model in ("student_distilled", "student_baseline", "student_transfer"):
        # one thread against two: the same training up to the rounding of the kernels
        assert lanes[model]["test"]["MAE"] == pytest.approx(
            sequential[model]["test"]["MAE"], abs=1e-3
        ), model
