"""Teacher prediction files: out-of-fold targets and their speaker-disjoint folds."""

from pathlib import Path

import numpy as np
import pytest

from videoadviser.config import Recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.errors import ConfigError
from videoadviser.teacher.predict import speaker_folds
from videoadviser.teacher.trainer import is_predictions_file, write_predictions


def test_speaker_folds_cover_every_clip_once_without_sharing_a_speaker(tiny_demo: Path) -> None:
    train = load_dataset(tiny_demo, progress=False).split("train")
    folds = speaker_folds(train, 3, seed=5)
    assert sorted(i for fold in folds for i in fold) == list(range(len(train)))
    speakers = [{train[i].video_id for i in fold} for fold in folds]
    assert all(not (a & b) for i, a in enumerate(speakers) for b in speakers[i + 1 :])
    assert speaker_folds(train, 3, seed=5) == folds  # deterministic
    with pytest.raises(ConfigError, match=r"oof_folds = 1000 is out of range; allowed: 0 \(off\) "):
        speaker_folds(train, 1000, seed=5)


def test_out_of_fold_targets_come_from_teachers_that_never_saw_the_clip(
    tiny_recipe: Recipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import videoadviser.teacher.predict as predict

    trained_on: list[set[str]] = []
    real_train = predict.train_teacher

    def spy(recipe, dataset, out_dir, *args, **kwargs):  # type: ignore[no-untyped-def]
        trained_on.append({r.uid for r in dataset.split("train")})
        assert len(dataset.split("valid")) == 8 and len(dataset.split("test")) == 8
        return real_train(recipe, dataset, out_dir, *args, **kwargs)

    monkeypatch.setattr(predict, "train_teacher", spy)
    tiny_recipe.teacher.epochs = 1
    tiny_recipe.teacher.oof_folds = 2
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    train = dataset.split("train")
    rows = predict.out_of_fold_predictions(tiny_recipe, dataset, tmp_path / "oof", progress=False)
    assert [r["uid"] for r in rows] == [r.uid for r in train]  # every training clip, once
    folds = predict.speaker_folds(train, 2, tiny_recipe.seed)
    assert len(trained_on) == 2
    for k, fold in enumerate(folds):
        held_out = {train[i].uid for i in fold}
        assert {rows[i]["fold"] for i in fold} == {k}
        assert trained_on[k] == {r.uid for r in train} - held_out  # never saw its fold
    assert all(np.isfinite(float(r["r_T"])) for r in rows)
    # a finished fold is reused, not retrained
    again = predict.out_of_fold_predictions(tiny_recipe, dataset, tmp_path / "oof", False)
    assert len(trained_on) == 2 and [r["r_T"] for r in again] == [r["r_T"] for r in rows]


def test_a_predictions_file_is_told_by_the_header_row_the_tool_writes(tmp_path: Path) -> None:
    path = tmp_path / "teacher_predictions.csv"
    row = {"uid": "a$_$1", "split": "train", "label": 1.0, "has_video": 1, "r_T": 0.5}
    row.update({f"logit_{k}": 0.0 for k in range(7)})
    write_predictions(path, [row])
    assert is_predictions_file(path)
    write_predictions(path, [{**row, "r_T_in_sample": 0.4, "fold": 1}])  # a run's, out of fold
    assert is_predictions_file(path)
    for header in (
        "uid,split,label,has_video,r_T\n",  # no logits
        "uid,split,label,has_video,r_T,logit_1\n",  # not from logit_0
        "uid,split,label,has_video,r_T,logit_0,notes\n",
        "video_id,clip_id,text,label\n",  # a dataset's label.csv
        "uid,split,label,has_video,r_T,logit_0\r\n",  # another program saved it
    ):
        path.write_text(header, newline="")
        assert not is_predictions_file(path), header
    assert not is_predictions_file(tmp_path / "absent.csv")
