"""Stage stamps: a finished stage is reused only when it was made from the same inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoadviser.errors import ConfigError
from videoadviser.utils.io import write_json
from videoadviser.utils.stage import STAMP_FILE, claim_stage, make_stamp


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
