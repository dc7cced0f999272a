"""MMSA processed pickles: the restricted unpickler admits data and refuses code."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from videoadviser.data.mmsa_pickle import read_processed_pickle, safe_load_pickle
from videoadviser.errors import DataError, UnsafePickleError


def _split(ids: list[str], texts: list[str], labels: list[float]) -> dict[str, object]:
    n = len(ids)
    return {
        "id": np.array(ids, dtype=object),
        "raw_text": np.array(texts),
        "regression_labels": np.array(labels, dtype=np.float32).reshape(n, 1),
        "text_bert": np.zeros((n, 3, 50), dtype=np.float32),
        "vision": np.zeros((n, 50, 20), dtype=np.float32),
        "audio_lengths": [50] * n,
        "annotations": ["Positive"] * n,
        "classification_labels": np.ones(n, dtype=np.int64),
    }


def _mmsa_like() -> dict[str, object]:
    return {
        "train": _split(["v1$_$1", "v1$_$2"], ["i liked it", "not at all"], [1.2, -0.8]),
        "valid": _split(["v2$_$1"], ["meh"], [0.0]),
        "test": _split(["v3$_$7"], ["great stuff"], [2.4]),
    }


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_reads_numpy_pickles_of_every_protocol(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "unaligned_50.pkl"
    path.write_bytes(pickle.dumps(_mmsa_like(), protocol=protocol))
    records = read_processed_pickle(path, raw_root=tmp_path / "raw")
    assert [r.uid for r in records] == ["v1$_$1", "v1$_$2", "v2$_$1", "v3$_$7"]
    assert [r.split for r in records] == ["train", "train", "valid", "test"]
    assert records[1].label == pytest.approx(-0.8) and records[1].text == "not at all"
    assert records[3].video_path == str(tmp_path / "raw" / "Raw" / "v3" / "7.mp4")


def test_without_raw_root_there_are_no_videos(tmp_path: Path) -> None:
    path = tmp_path / "a.pkl"
    path.write_bytes(pickle.dumps(_mmsa_like()))
    assert all(r.video_path is None for r in read_processed_pickle(path))


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))

    def __init__(self, marker: Path) -> None:
        self.marker = marker


def test_refuses_code_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _mmsa_like()
    data["train"]["raw_text"] = [_Exploit(marker), "x"]  # type: ignore[index]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafePickleError, match=r"(posix|os)\.system") as info:
        read_processed_pickle(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("obj", [OrderedDict(a=1), Path("x"), np.random.default_rng(0)])
def test_refuses_other_globals(tmp_path: Path, obj: object) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"train": obj}))
    with pytest.raises(UnsafePickleError, match="refusing to load global"):
        safe_load_pickle(path)


def test_garbage_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "x.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="not a readable pickle"):
        safe_load_pickle(path)


def test_bad_label_and_id_are_named(tmp_path: Path) -> None:
    data = _mmsa_like()
    data["valid"] = _split(["v2$_$1", "bad-id"], ["meh", "hm"], [np.nan, 1.0])
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError) as info:
        read_processed_pickle(path)
    text = str(info.value)
    assert "['valid'] row 0 (id 'v2$_$1'): regression_label is NaN" in text
    assert "['valid'] row 1 (id 'bad-id')" in text


def test_length_mismatch(tmp_path: Path) -> None:
    data = _mmsa_like()
    data["test"]["raw_text"] = np.array(["a", "b"])  # type: ignore[index]
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match=r"\['test'\] id/raw_text/regression_labels lengths differ"):
        read_processed_pickle(path)


def test_missing_split(tmp_path: Path) -> None:
    data = _mmsa_like()
    del data["valid"]
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DataError, match="missing split"):
        read_processed_pickle(path)
