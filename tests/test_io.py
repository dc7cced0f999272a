"""Atomic writes: a failure mid-write leaves the old file, and JSON is strict."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from videoadviser.utils.io import atomic_open, read_json, write_csv, write_json


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    write_json(target, {"ok": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b'{"half": ')
            raise RuntimeError("crash mid-write")
    assert read_json(target) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left


def test_json_is_strict_and_numpy_aware(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_json(target, {"x": np.float32(0.5), "y": np.arange(2), "nan": math.nan, "p": tmp_path})
    loaded = json.loads(target.read_text())
    assert loaded == {"x": 0.5, "y": [0, 1], "nan": None, "p": str(tmp_path)}


def test_csv(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    write_csv(target, [{"a": 1, "b": np.float64(2.5)}, {"a": 3}], ["a", "b"])
    assert target.read_text() == "a,b\n1,2.5\n3,\n"
