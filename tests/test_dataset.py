"""Loading a dataset: every split must be usable by the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoadviser.data.dataset import load_dataset
from videoadviser.errors import DataError


def test_a_split_with_fewer_than_two_clips_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        "a,1,good,1,train\na,2,bad,-1,train\nb,1,fine,0.5,valid\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as error:
        load_dataset(tmp_path, video_policy="blank", progress=False)
    message = str(error.value)
    assert "split(s) valid (1), test (0) have fewer than 2 clips" in message
    assert str(tmp_path) in message and "mode" in message


def test_a_split_whose_labels_are_all_equal_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\n"
        "a,1,good,1,train\na,2,bad,-1,train\nb,1,fine,0.5,valid\nb,2,ok,0.5,valid\n"
        "c,1,great,2,test\nc,2,awful,-2,test\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match="every clip of split.s. valid has the same label"):
        load_dataset(tmp_path, video_policy="blank", progress=False)
