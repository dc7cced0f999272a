"""VEGAS readers, the fold split and their errors, on small files written in the real layouts."""

from __future__ import annotations

import io
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from videoadviser.errors import DataError
from videoadviser.retrieval.vegas import (
    balanced_folds,
    holdout,
    pool_uint8,
    read_folds,
    read_packed,
    read_per_video,
)


def _packed(path: Path, **replace: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "audio_train": rng.normal(size=(12, 128)).astype(np.float32),
        "visual_train": rng.normal(size=(12, 1024)).astype(np.float32),
        "lab_train": np.arange(12) % 3,
        "audio_test": rng.normal(size=(6, 128)).astype(np.float32),
        "visual_test": rng.normal(size=(6, 1024)).astype(np.float32),
        "lab_test": np.arange(6) % 3,
    }
    arrays.update(replace)
    with h5py.File(path, "w") as h5:
        for key, value in arrays.items():
            if value is not None:
                h5.create_dataset(key, data=value)
    return path


def test_packed_file_reads_train_then_test(tmp_path: Path) -> None:
    data = read_packed(_packed(tmp_path / "vegas_feature.h5"))
    assert data.audio.shape == (18, 128) and data.visual.shape == (18, 1024)
    assert data.labels.tolist() == (np.arange(12) % 3).tolist() + (np.arange(6) % 3).tolist()
    assert data.clip_ids[0] == "train/0" and data.clip_ids[12] == "test/0"
    assert data.class_names == ["class 0", "class 1", "class 2"]
    assert data.packed_split.tolist().count("test") == 6


def test_packed_labels_may_be_a_column_or_one_hot(tmp_path: Path) -> None:
    column = read_packed(
        _packed(tmp_path / "a.h5", lab_train=(np.arange(12) % 3)[:, None].astype(float))
    )
    one_hot = read_packed(_packed(tmp_path / "b.h5", lab_train=np.eye(3)[np.arange(12) % 3]))
    assert column.labels.tolist() == one_hot.labels.tolist()


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({"lab_test": None}, "missing key(s) lab_test"),
        (
            {"audio_test": np.zeros((5, 128), np.float32)},
            "audio_test: 5 rows but the labels have 6",
        ),
        (
            {"visual_test": np.zeros((6, 512), np.float32)},
            "visual_test: 512-d but visual_train is 1024-d",
        ),
        ({"audio_train": np.zeros((12, 128), np.uint8)}, "audio_train: uint8 features"),
        ({"lab_train": -(np.arange(12) % 3)}, "lab_train: label -2 is negative"),
        ({"lab_train": np.full(12, 0.5)}, "lab_train: labels must be whole class indices"),
        (
            {"visual_train": np.full((12, 1024), np.nan, np.float32)},
            "visual_train: row 0 holds NaN",
        ),
        ({"lab_train": np.ones((12, 3))}, "lab_train: a 2-d label array must be one-hot"),
        ({"lab_test": np.full(6, 7)}, "class(es) [3, 4, 5, 6] never occur"),
    ],
)
def test_bad_packed_file_names_the_key(tmp_path: Path, replace: dict, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        read_packed(_packed(tmp_path / "bad.h5", **replace))


def test_not_an_h5_file(tmp_path: Path) -> None:
    path = tmp_path / "x.h5"
    path.write_text("not hdf5")
    with pytest.raises(DataError, match="not an HDF5 file"):
        read_packed(path)
    with pytest.raises(DataError, match="no such file"):
        read_packed(tmp_path / "absent.h5")


def test_pool_uint8_is_the_vegas_conversion() -> None:
    x = np.array([[128, 0], [192, 255]], dtype=np.uint8)
    assert pool_uint8(x, "x").tolist() == pytest.approx([(0 + 0.25) / 2, (-0.5 + 127 / 256) / 2])
    with pytest.raises(DataError, match="expected uint8"):
        pool_uint8(x.astype(np.float32), "clip.npy")


def _per_video(folder: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(1)
    (folder / "audio").mkdir(parents=True)
    (folder / "visual").mkdir()
    lines = ["clip_id,label"]
    for i in range(n):
        np.save(folder / "audio" / f"c{i}.npy", rng.integers(0, 256, (3, 128), dtype=np.uint8))
        np.save(folder / "visual" / f"c{i}.npy", rng.integers(0, 256, (2, 1024), dtype=np.uint8))
        lines.append(f"c{i},{i % 2}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_per_video_layout_pools_each_clip(tmp_path: Path) -> None:
    folder = _per_video(tmp_path / "pv")
    data = read_per_video(folder)
    raw = np.load(folder / "audio" / "c3.npy")
    assert data.audio[3] == pytest.approx(((raw.astype(np.float32) - 128) / 256).mean(0))
    assert data.labels.tolist() == [0, 1, 0, 1, 0, 1]


def test_per_video_layout_refuses_pickles_and_missing_files(tmp_path: Path) -> None:
    folder = _per_video(tmp_path / "pv")
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (folder / "visual" / "c2.npy").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match=r"c2\.npy: not a plain \.npy array"):
        read_per_video(folder)
    (folder / "visual" / "c2.npy").unlink()
    with pytest.raises(DataError, match=r"c2\.npy: missing \(row 4"):
        read_per_video(folder)
    (folder / "visual" / "c2.npy").write_bytes(b"")
    with pytest.raises(DataError, match=r"c2\.npy: not a plain \.npy array"):
        read_per_video(folder)


def test_per_video_class_names_and_bad_rows(tmp_path: Path) -> None:
    folder = _per_video(tmp_path / "pv")
    table = folder / "labels.csv"
    rows = table.read_text().splitlines()
    named = ["clip_id,label,class_name"] + [
        f"{r},{'dog' if r.endswith(',0') else 'drum'}" for r in rows[1:]
    ]
    table.write_text("\n".join(named) + "\n")
    assert read_per_video(folder).class_names == ["dog", "drum"]
    table.write_text("\n".join([*named[:3], "c2,0,cat", *named[4:]]) + "\n")
    with pytest.raises(DataError, match="row 4: class_name 'cat' for label 0"):
        read_per_video(folder)
    table.write_text("\n".join([*rows[:3], "c2", *rows[4:]]) + "\n")
    with pytest.raises(DataError, match="row 4: wrong number of fields"):
        read_per_video(folder)
    table.write_text("\n".join([*rows[:3], "c2,-1", *rows[4:]]) + "\n")
    with pytest.raises(DataError, match="row 4: label -1 is negative"):
        read_per_video(folder)


def test_balanced_folds_keep_classes_balanced_and_are_deterministic() -> None:
    labels = np.repeat(np.arange(4), [10, 11, 7, 5])
    folds = balanced_folds(labels, 5, seed=3)
    for c in range(4):
        counts = np.bincount(folds[labels == c], minlength=5)
        assert counts.max() - counts.min() <= 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.max() - sizes.min() <= 1
    assert (folds == balanced_folds(labels, 5, seed=3)).all()
    assert not (folds == balanced_folds(labels, 5, seed=4)).all()
    with pytest.raises(DataError, match="class 0 has 2 clips, fewer than the 5 folds"):
        balanced_folds(np.array([0, 0, 1, 1, 1, 1, 1]), 5, seed=0)


def test_holdout_takes_a_share_of_every_class() -> None:
    labels = np.repeat(np.arange(3), 20)
    rows = np.arange(60)
    mask = holdout(rows, labels, 0.15, seed=0)
    assert np.bincount(labels[rows[mask]]).tolist() == [3, 3, 3]


def test_user_folds_file(tmp_path: Path) -> None:
    path = tmp_path / "folds.csv"
    path.write_text("clip_id,fold\na,0\nb,1\nc,1\n")
    assert read_folds(path, ["c", "a", "b"]).tolist() == [1, 0, 1]
    with pytest.raises(DataError, match="no fold for 1 clip"):
        read_folds(path, ["a", "b", "c", "d"])
    path.write_text("clip_id,fold\na,x\n")
    with pytest.raises(DataError, match="row 2: fold 'x' is not an integer"):
        read_folds(path, ["a"])
