"""The student: teacher-prediction reading, batching, step-2 training and the exact export."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard_scalars import read_tensorboard

from videoadviser.config import Recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.errors import ConfigError, DataError, TrainingError
from videoadviser.student.trainer import (
    Encoded,
    predict_texts,
    read_teacher_predictions,
    train_student,
)
from videoadviser.utils.io import write_csv


def _teacher_csv(path: Path, records, value: float) -> Path:  # type: ignore[no-untyped-def]
    write_csv(
        path,
        [{"uid": r.uid, "split": r.split, "r_T": value} for r in records],
        ["uid", "split", "r_T"],
    )
    return path


def test_read_teacher_predictions_errors(tiny_demo: Path, tmp_path: Path) -> None:
    records = load_dataset(tiny_demo, progress=False).split("train")
    with pytest.raises(DataError, match="run `videoadviser teacher predict` first"):
        read_teacher_predictions(tmp_path / "none.csv", records)
    partial = _teacher_csv(tmp_path / "p.csv", records[:-2], 1.0)
    with pytest.raises(DataError, match="no teacher prediction for 2 of 24 training clips"):
        read_teacher_predictions(partial, records)
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,r_T\n" + "\n".join(f"{r.uid},nan" for r in records) + "\n")
    with pytest.raises(DataError, match=r"bad.csv:2 \(uid '.*'\): r_T 'nan' is not a finite"):
        read_teacher_predictions(bad, records)
    good = _teacher_csv(tmp_path / "g.csv", list(reversed(records)), 0.5)
    targets = read_teacher_predictions(good, records)
    assert targets.regression.tolist() == [0.5] * 24 and targets.logits is None


def test_train_student_refuses_a_negative_lambda2_before_any_work(
    tiny_recipe: Recipe, tiny_demo: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(tiny_demo, progress=False)
    out = tmp_path / "s"
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match=r"lambda2 = .* is out of range; allowed: a number"):
            train_student(tiny_recipe, dataset, out, None, lambda2=bad, progress=False)
    assert not out.exists()


@pytest.mark.parametrize(
    ("r_t", "message"),
    [
        ("1e6", "r_T 1e+06 is outside [-10, 10]; labels lie in [-3, 3]"),
        ("-10.5", "r_T -10.5 is outside [-10, 10]"),
        ("inf", "r_T 'inf' is not a finite number"),
        ("", "r_T '' is not a finite number"),
    ],
)
def test_an_r_t_out_of_range_names_file_row_and_uid(
    tiny_demo: Path, tmp_path: Path, r_t: str, message: str
) -> None:
    # issue 24: an r_T of 1e6 in a predictions file was accepted
    records = load_dataset(tiny_demo, progress=False).split("train")
    rows = [f"{r.uid},0.5" for r in records]
    rows[3] = f"{records[3].uid},{r_t}"
    path = tmp_path / "p.csv"
    path.write_text("uid,r_T\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError) as error:
        read_teacher_predictions(path, records)
    assert f"{path}:5 (uid {records[3].uid!r}): {message}" in str(error.value)
    rows[3] = f"{records[3].uid},-10"  # the bound itself is allowed
    path.write_text("uid,r_T\n" + "\n".join(rows) + "\n")
    assert read_teacher_predictions(path, records).regression[3] == -10


def test_a_uid_given_twice_is_refused_with_both_rows(tiny_demo: Path, tmp_path: Path) -> None:
    # issue 24: a duplicate uid with another r_T was accepted, and the last one won
    records = load_dataset(tiny_demo, progress=False).split("train")
    lines = [f"{r.uid},0.5,0.1,0.2" for r in records] + [f"{records[1].uid},2.5,0.1,0.2"]
    lines[5] = f"{records[5].uid},0.5,x,0.2"  # and a logit that is not a number
    path = tmp_path / "p.csv"
    path.write_text("uid,r_T,logit_0,logit_1\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError) as error:
        read_teacher_predictions(path, records)
    message = str(error.value)
    assert message.startswith(f"2 bad rows in {path}:")
    assert f"{path}:7 (uid {records[5].uid!r}): logit_0 'x' is not a finite number" in message
    assert (
        f"{path}:26 (uid {records[1].uid!r}): a second row for this clip (the first is line 3)"
    ) in message
    assert "videoadviser teacher predict" in message


def test_batches_cover_every_text_once() -> None:
    from transformers import AutoTokenizer

    from videoadviser.pretrained import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    texts = [" ".join(["word"] * n) for n in range(1, 70)]
    encoded = Encoded(tokenizer, texts, 16)
    for seed in (None, 3):
        flat = sorted(i for b in encoded.batches(8, seed) for i in b)
        assert flat == list(range(69))
    assert max(len(x) for x in encoded.ids) == 16  # truncated
    batch = encoded.batch([0, 68])
    assert batch["input_ids"].shape == (2, 16) and batch["attention_mask"][0].sum() == 3


def test_distillation_pulls_the_student_towards_the_teacher(
    tiny_recipe: Recipe, tiny_demo: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(tiny_demo, progress=False)
    teacher = _teacher_csv(tmp_path / "t.csv", dataset.records, 3.0)  # a teacher that says +3
    tiny_recipe.student.epochs = 3
    tiny_recipe.student.patience = 5
    base = train_student(tiny_recipe, dataset, tmp_path / "base", None, 0.0, progress=False)
    distilled = train_student(
        tiny_recipe, dataset, tmp_path / "dist", teacher, 20.0, progress=False
    )
    assert set(json.loads((tmp_path / "dist" / "metrics.json").read_text())) == {
        "train",
        "valid",
        "test",
    }

    def mean_train(result) -> float:  # type: ignore[no-untyped-def]
        return float(np.mean([r["r_S"] for r in result["predictions"] if r["split"] == "train"]))

    assert mean_train(distilled) > mean_train(base) + 0.3
    # history.csv records each loss term per validation: the distillation term falls as the
    # student moves to the teacher's +3
    with open(tmp_path / "dist" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    distill = [float(r["loss_distill"]) for r in rows]
    assert len(distill) == 3 and distill[-1] < distill[0]
    assert all(float(r["loss_l1"]) > 0 for r in rows) and rows[0]["loss_soft_kl"] == ""
    # ... and TensorBoard gets the same curves, one point per validation
    scalars = read_tensorboard(tmp_path / "dist")
    assert [p.step for p in scalars["valid/mae"]] == [int(r["step"]) for r in rows]
    assert [p.value for p in scalars["train/loss_distill"]] == pytest.approx(distill, rel=1e-5)
    with pytest.raises(DataError, match="needs the teacher's predictions"):
        train_student(tiny_recipe, dataset, tmp_path / "x", None, 1.0, progress=False)


def test_exported_student_loads_with_plain_transformers(
    tiny_recipe: Recipe, tiny_demo: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(tiny_demo, progress=False)
    tiny_recipe.student.epochs = 1
    train_student(tiny_recipe, dataset, tmp_path / "s", None, 0.0, progress=False)
    model_dir = tmp_path / "s" / "best"
    texts = ["I absolutely loved this film", "worst service ever, never again", "it was fine"]
    ours = predict_texts(model_dir, texts)
    script = f"""
import json, sys, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model = AutoModelForSequenceClassification.from_pretrained({str(model_dir)!r}).eval()
tokenizer = AutoTokenizer.from_pretrained({str(model_dir)!r})
texts = {texts!r}
with torch.no_grad():
    out = [model(**tokenizer(t, return_tensors="pt")).logits.item() for t in texts]
assert not any(m.startswith("videoadviser") for m in sys.modules)
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    plain = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(ours, plain, atol=1e-5)


def test_validation_every_n_steps_selects_within_an_epoch(
    tiny_recipe: Recipe, tiny_demo: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(tiny_demo, progress=False)
    tiny_recipe.student.epochs = 2  # 24 clips, batches of 8: 3 steps an epoch, 6 in all
    tiny_recipe.student.eval_every = 2
    tiny_recipe.student.patience = 10
    tiny_recipe.student.schedule = "cosine"
    tiny_recipe.student.warmup_epochs = 1.0
    tiny_recipe.student.ema_decay = 0.5
    tiny_recipe.student.mixed_precision = "no"  # validation and export in the same precision
    result = train_student(tiny_recipe, dataset, tmp_path / "s", None, 0.0, progress=False)
    assert [h["step"] for h in result["history"]] == [2, 4, 6]
    maes = [h["valid_mae"] for h in result["history"]]
    best = next(h for h in result["history"] if h["valid_mae"] == min(maes))
    assert result["best_epoch"] == best["epoch"]
    # the exported model is the selected one: its validation MAE is the best one seen
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["valid"]["MAE"] == pytest.approx(min(maes), abs=1e-4)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_recipe: Recipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import videoadviser.student.trainer as trainer

    calls = {"n": 0}
    real_loss = trainer.student_loss

    def loss_that_diverges(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        loss, parts = real_loss(*args, **kwargs)
        return (loss * float("nan") if calls["n"] == 5 else loss), parts

    monkeypatch.setattr(trainer, "student_loss", loss_that_diverges)
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    out = tmp_path / "student"
    with pytest.raises(TrainingError) as error:  # 3 steps per epoch: step 5 is in epoch 2
        trainer.train_student(tiny_recipe, dataset, out, None, lambda2=0.0, progress=False)
    message = str(error.value)
    assert f"student ({out}): the training loss is nan at epoch 2, step 5" in message
    assert f"{out / 'best'}, is kept" in message and "grad_clip" in message
    assert (out / "best" / "config.json").is_file() and not (out / "metrics.json").exists()


def test_an_interrupted_student_resumes_to_the_uninterrupted_result(
    tiny_recipe: Recipe,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import videoadviser.student.trainer as trainer

    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    tiny_recipe.student.epochs = 3
    tiny_recipe.student.ema_decay = 0.5  # the weight average is part of the resume point
    full = trainer.train_student(tiny_recipe, dataset, tmp_path / "full", None, 0.0, False)
    assert not (tmp_path / "full" / "last").exists()  # removed once finished

    calls = {"n": 0}
    real_loss = trainer.student_loss

    def killed_at_step_8(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:  # 3 steps per epoch: in epoch 3, after two validations
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(trainer, "student_loss", killed_at_step_8)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        trainer.train_student(tiny_recipe, dataset, out, None, 0.0, False)
    assert {"model.safetensors", "optimizer.safetensors", "rng.safetensors"} <= {
        p.name for p in (out / "last").iterdir()
    }
    monkeypatch.setattr(trainer, "student_loss", real_loss)
    resumed = trainer.train_student(tiny_recipe, dataset, out, None, 0.0, False)
    assert [h["step"] for h in resumed["history"]] == [3, 6, 9]
    for a, b in zip(full["history"], resumed["history"]):
        assert a["valid_mae"] == pytest.approx(b["valid_mae"], abs=1e-6)
    assert [r["r_S"] for r in resumed["predictions"]] == pytest.approx(
        [r["r_S"] for r in full["predictions"]], abs=1e-6
    )

    assert not (out / "last").exists()
    # a resume point from another configuration is never used
    calls["n"] = 0
    monkeypatch.setattr(trainer, "student_loss", killed_at_step_8)
    with pytest.raises(KeyboardInterrupt):
        trainer.train_student(tiny_recipe, dataset, tmp_path / "other", None, 0.0, False)
    monkeypatch.setattr(trainer, "student_loss", real_loss)
    tiny_recipe.student.lr = 1e-4
    with caplog.at_level("WARNING"):
        trainer.train_student(tiny_recipe, dataset, tmp_path / "other", None, 0.0, False)
    assert "written by another configuration; starting afresh" in caplog.text


def test_teacher_predictions_in_another_encoding_name_line_and_byte(
    tiny_demo: Path, tmp_path: Path
) -> None:
    records = load_dataset(tiny_demo, progress=False).split("train")
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"uid,r_T,note\n" + f"{records[0].uid},0.5,".encode() + b"caf\xe9\n")
    with pytest.raises(DataError, match=r"latin1.csv:2: not UTF-8 text \(byte \d+ is b'\\xe9'"):
        read_teacher_predictions(path, records)


def test_max_length_is_checked_against_the_student_checkpoint(
    tiny_recipe: Recipe, tmp_path: Path
) -> None:
    from videoadviser.config import load_recipe_and_source
    from videoadviser.student.model import check_student_checkpoints

    recipe, source = load_recipe_and_source("demo", ["student.transfer.max_length=513"])
    with pytest.raises(ConfigError) as error:
        check_student_checkpoints(recipe, source)
    assert str(error.value).startswith(
        "--set student.transfer.max_length=513: student.transfer.max_length = 513 is out of "
        "range; allowed: 3 to 512 for the student checkpoint 'minilm'"
    )
    # a text longer than 512 tokens would have failed mid-training: refused before any work
    tiny_recipe.student.max_length = 100000
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    out = tmp_path / "student"
    with pytest.raises(ConfigError, match=r"Set recipe.student.max_length = VALUE instead"):
        train_student(tiny_recipe, dataset, out, None, lambda2=0.0, progress=False)
    assert not out.exists()


def test_teacher_predictions_with_a_huge_field_or_long_rows_are_refused_by_line(
    tiny_demo: Path, tmp_path: Path
) -> None:
    # issue 24 re-probe: a field over 128 KiB was a raw `_csv.Error` traceback
    from videoadviser.data.records import FIELD_LIMIT

    records = load_dataset(tiny_demo, progress=False).split("train")
    bad = tmp_path / "bad.csv"
    bad.write_text(f'uid,r_T\n{records[0].uid},1\n"{"x" * (FIELD_LIMIT + 1)}",1\n')
    with pytest.raises(DataError, match=r"bad.csv:3: not readable as CSV: a field is longer"):
        read_teacher_predictions(bad, records)
    bad.write_text(f"uid,r_T\n{records[0].uid},1,2\n")
    with pytest.raises(DataError, match=r"bad.csv:2: 3 fields, but the header has 2"):
        read_teacher_predictions(bad, records)
