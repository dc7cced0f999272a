"""Stage stamps: a finished stage is reused only when it was made from the same inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from videoadviser.errors import ConfigError
from videoadviser.utils.io import staged_folder, write_json
from videoadviser.utils.ownership import STUDENT_MODEL, STUDENT_RESUME_POINT, TEACHER_CHECKPOINT
from videoadviser.utils.stage import (
    STAMP_FILE,
    check_stages,
    claim_stage,
    confirm_finished,
    make_stamp,
)


def test_a_stage_is_reused_only_with_the_same_stamp(tmp_path: Path) -> None:
    folder = tmp_path / "student"
    stamp = make_stamp(seed=1, student={"lr": 5e-5, "epochs": 3}, dataset="abc")
    assert claim_stage(folder, stamp) is False  # new: run it
    assert (folder / STAMP_FILE).is_file()
    assert claim_stage(folder, stamp) is False  # stamped, not finished: resume it
    write_json(folder / "metrics.json", {"test": {"MAE": 1.0}})
    assert claim_stage(folder, make_stamp(seed=1, dataset="abc", student={"epochs": 3, "lr": 5e-5}))

    changed = make_stamp(seed=1, student={"lr": 1e-4, "epochs": 3}, dataset="abc")
    with pytest.raises(ConfigError) as error:
        claim_stage(folder, changed)
    message = str(error.value)
    assert str(folder) in message and "student.lr (5e-05 -> 0.0001)" in message
    assert "--overwrite" in message and "epochs" not in message
    assert (folder / "metrics.json").is_file()  # nothing deleted without --overwrite

    assert claim_stage(folder, changed, overwrite=True) is False
    assert not (folder / "metrics.json").exists() and claim_stage(folder, changed) is False


def test_a_finished_stage_without_a_stamp_is_not_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "teacher"
    write_json(folder / "metrics.json", {})
    stamp = make_stamp(seed=1)
    with pytest.raises(ConfigError, match="without a stage.json"):
        claim_stage(folder, stamp)
    (tmp_path / "empty").mkdir()
    assert claim_stage(tmp_path / "empty", stamp) is False  # an empty folder is free


def test_the_stamp_hash_ignores_key_order_but_not_values() -> None:
    a = make_stamp(x={"a": 1, "b": [1, 2]}, y=None)
    assert a["hash"] == make_stamp(y=None, x={"b": [1, 2], "a": 1})["hash"]
    assert a["hash"] != make_stamp(x={"a": 1, "b": [2, 1]}, y=None)["hash"]
    assert a["inputs"]["version"]


def _checkpoint(folder: Path, kind: str) -> None:
    """A product of ``kind`` at ``folder``, written as the trainers write theirs."""
    with staged_folder(folder, kind) as staging:
        (staging / "model.safetensors").write_bytes(b"weights")
        write_json(staging / "config.json", {})


def _finished_teacher(folder: Path, stamp: dict[str, object]) -> None:
    """A finished teacher stage as `teacher train` leaves it."""
    claim_stage(folder, stamp)
    _checkpoint(folder / "best", TEACHER_CHECKPOINT)
    _checkpoint(folder / "last", TEACHER_CHECKPOINT)
    (folder / "history.csv").write_text("epoch\n1\n")
    write_json(folder / "metrics.json", {"test": {"MAE": 1.0}})


def _finished_student(folder: Path, stamp: dict[str, object]) -> None:
    """A finished student stage as `student train` leaves it (its resume point removed)."""
    claim_stage(folder, stamp)
    _checkpoint(folder / "best", STUDENT_MODEL)
    (folder / "history.csv").write_text("epoch\n1\n")
    (folder / "predictions.csv").write_text("uid,split,label,r_S\n")
    write_json(folder / "metrics.json", {"test": {"MAE": 1.0}})


TEACHER = make_stamp(kind="teacher", seed=1, teacher={"lr": 1e-3})
STUDENT = make_stamp(kind="student", seed=1, student={"lr": 5e-5})


def test_a_stage_without_its_stamp_is_told_by_what_it_made(tmp_path: Path) -> None:
    # the probe: `teacher train --out T`; rm T/stage.json; `student train --out T --overwrite`
    teacher = tmp_path / "T"
    _finished_teacher(teacher, TEACHER)
    (teacher / STAMP_FILE).unlink()
    before = sorted(p.relative_to(teacher) for p in teacher.rglob("*"))
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="holds a teacher stage, so a student cannot go"):
            claim_stage(teacher, STUDENT, overwrite=overwrite)
    assert sorted(p.relative_to(teacher) for p in teacher.rglob("*")) == before
    # a student interrupted mid-way (its resume point only) is told by that
    student = tmp_path / "S"
    claim_stage(student, STUDENT)
    _checkpoint(student / "last", STUDENT_RESUME_POINT)
    (student / STAMP_FILE).unlink()
    with pytest.raises(ConfigError, match="holds a student stage, so a teacher cannot go"):
        claim_stage(student, TEACHER, overwrite=True)
    assert (student / "last" / "model.safetensors").is_file()
    # a teacher checkpoint an older version wrote (no manifest) tells it as well
    old = tmp_path / "old"
    (old / "best").mkdir(parents=True)
    write_json(old / "best" / "config.json", {"kind": "videoadviser-teacher"})
    (old / "best" / "model.safetensors").write_bytes(b"weights")
    write_json(old / "metrics.json", {})
    with pytest.raises(ConfigError, match="holds a teacher stage"):
        claim_stage(old, STUDENT, overwrite=True)
    # the same kind without its stamp: replaced with --overwrite, as before
    assert claim_stage(teacher, TEACHER, overwrite=True) is False
    assert sorted(p.name for p in teacher.iterdir()) == [STAMP_FILE]


@pytest.mark.parametrize(
    ("kind", "removed"),
    [
        ("student", "predictions.csv"),
        ("student", "best/model.safetensors"),
        ("teacher", "best/model.safetensors"),
        ("teacher", "history.csv"),
    ],
)
def test_a_finished_stage_that_lacks_what_it_made_runs_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str, removed: str
) -> None:
    folder = tmp_path / kind
    stamp = TEACHER if kind == "teacher" else STUDENT
    (_finished_teacher if kind == "teacher" else _finished_student)(folder, stamp)
    assert claim_stage(folder, stamp) is True  # whole: reused
    (folder / removed).unlink()
    with caplog.at_level(logging.WARNING, logger="videoadviser.utils.stage"):
        assert claim_stage(folder, stamp) is False  # not trusted: it runs again
    assert f"lacks {folder / removed}, which it writes" in caplog.text
    assert f"running the stage in {folder} again" in caplog.text
    assert not (folder / "metrics.json").exists()  # no longer looks finished
    # a teacher resumes from last/ only while the checkpoint it tracks is whole
    assert (folder / "last").is_dir() == (kind == "teacher" and removed == "history.csv")
    assert claim_stage(folder, stamp) is False and (folder / STAMP_FILE).is_file()


def test_a_stage_that_lacks_what_it_made_is_not_rerun_over_a_users_file(tmp_path: Path) -> None:
    folder = tmp_path / "student"
    _finished_student(folder, STUDENT)
    (folder / "predictions.csv").unlink()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        claim_stage(folder, STUDENT)
    assert (folder / "metrics.json").is_file() and (folder / "notes.txt").read_text() == "mine"


def test_check_stages_refuses_any_planned_stage_before_one_is_touched(tmp_path: Path) -> None:
    first, second, third = tmp_path / "teacher", tmp_path / "student", tmp_path / "other"
    _finished_teacher(first, TEACHER)
    _finished_student(second, STUDENT)
    changed = make_stamp(kind="teacher", seed=1, teacher={"lr": 2e-4})
    plan = [(first, changed), (second, STUDENT), (third, STUDENT)]
    check_stages(plan, overwrite=True)  # the teacher replaced, the student reused: fine
    (second / "notes.txt").write_text("mine")
    check_stages(plan, overwrite=True)  # a reused stage is only read: its files are safe
    other = make_stamp(kind="student", seed=2, student={"lr": 5e-5})
    with pytest.raises(ConfigError, match=r"student/notes\.txt"):
        check_stages([(first, changed), (second, other)], overwrite=True)
    (second / "notes.txt").unlink()
    with pytest.raises(ConfigError, match="holds a teacher stage, so a student cannot go"):
        check_stages([(second, other), (first, STUDENT)], overwrite=True)
    with pytest.raises(ConfigError, match=r"student was made from other inputs"):
        check_stages([(first, TEACHER), (second, other)])
    assert claim_stage(first, TEACHER) is True  # nothing was touched
    assert not third.exists() and (second / "metrics.json").is_file()


def test_a_fold_teacher_that_lacks_its_checkpoint_is_trained_again(tmp_path: Path) -> None:
    folds = tmp_path / "teacher_oof"
    claim_stage(folds, TEACHER)
    fold = folds / "fold_0"  # a stage without a stamp of its own, inside a claimed one
    assert confirm_finished(fold, "teacher") is False
    _finished_teacher(fold, TEACHER)
    (fold / STAMP_FILE).unlink()
    assert confirm_finished(fold, "teacher") is True
    (fold / "best" / "model.safetensors").unlink()
    assert confirm_finished(fold, "teacher") is False
    assert not (fold / "metrics.json").exists() and not (fold / "last").exists()
    assert (fold / "best" / "config.json").is_file()  # replaced whole when it is retrained


def test_a_stage_folder_that_is_a_link_is_refused_before_any_work(tmp_path: Path) -> None:
    # review of issue 24: runs/new/seed_1/teacher -> an older run's teacher; `run --overwrite`
    # followed the link and emptied the older run's stage
    older = tmp_path / "old" / "seed_1" / "teacher"
    first = make_stamp(kind="teacher", teacher={"lr": 1e-3})
    claim_stage(older, first)
    write_json(older / "metrics.json", {"mae": 1})
    before = {p.name: p.read_bytes() for p in older.iterdir()}
    link = tmp_path / "new" / "seed_1" / "teacher"
    link.parent.mkdir(parents=True)
    link.symlink_to(older)
    second = make_stamp(kind="teacher", teacher={"lr": 2e-4})
    for stamp in (first, second):
        for overwrite in (False, True):
            with pytest.raises(ConfigError, match=f"{link}: is a symbolic link"):
                claim_stage(link, stamp, overwrite=overwrite)
            with pytest.raises(ConfigError, match=f"{link}: is a symbolic link"):
                check_stages([(link, stamp)], overwrite)
    with pytest.raises(ConfigError, match=f"{link}: is a symbolic link"):
        check_stages([(link, "teacher")])
    assert link.is_symlink()
    assert {p.name: p.read_bytes() for p in older.iterdir()} == before
