"""Missing and corrupt videos under each policy, on a dataset folder made elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from videoadviser.data.dataset import load_dataset
from videoadviser.data.mmsa_raw import read_label_csv
from videoadviser.data.videos import on_decode_failure
from videoadviser.errors import ConfigError, DataError, VideoDecodeError


@pytest.fixture()
def damaged(tiny_demo: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the tiny dataset with one missing, one empty and one garbage clip."""
    root = tmp_path / "damaged"
    shutil.copytree(tiny_demo, root)
    records = read_label_csv(root)
    bad = [records[0].video_path, records[5].video_path, records[-1].video_path]
    Path(bad[0]).unlink()
    Path(bad[1]).write_bytes(b"")
    Path(bad[2]).write_bytes(b"this is not an mp4 file" * 50)
    return root, bad  # type: ignore[return-value]


def test_error_policy_lists_every_bad_file(damaged: tuple[Path, list[str]]) -> None:
    root, bad = damaged
    with pytest.raises(DataError) as info:
        load_dataset(root, video_policy="error", progress=False)
    message = str(info.value)
    assert message.startswith("3 missing or corrupt videos")
    for path in bad:
        assert path in message
    assert "file not found" in message
    assert "--video-policy skip" in message


def test_skip_policy_drops_rows_and_counts(damaged: tuple[Path, list[str]]) -> None:
    root, bad = damaged
    dataset = load_dataset(root, video_policy="skip", progress=False)
    assert len(dataset.records) == 40 - 3
    assert dataset.video_report.dropped == 3
    assert not {r.video_path for r in dataset.records} & set(bad)
    assert all(r.has_video for r in dataset.records)


def test_blank_policy_keeps_rows_without_video(damaged: tuple[Path, list[str]]) -> None:
    root, bad = damaged
    dataset = load_dataset(root, video_policy="blank", progress=False)
    assert len(dataset.records) == 40
    blank = [r for r in dataset.records if not r.has_video]
    assert len(blank) == 3 and dataset.video_report.blanked == 3
    assert dataset.summary()["with_video"] == 37
    assert set(dataset.video_report.bad) == set(bad)


def test_clean_dataset_passes_every_policy(tiny_demo: Path) -> None:
    for policy in ("error", "skip", "blank"):
        dataset = load_dataset(tiny_demo, video_policy=policy, progress=False)
        assert len(dataset.records) == 40 and dataset.video_report.checked == 40


def test_unknown_policy(tiny_demo: Path) -> None:
    with pytest.raises(ConfigError, match="'ignore' is not one of error, skip, blank"):
        load_dataset(tiny_demo, video_policy="ignore", progress=False)


def test_late_decode_failure_follows_policy() -> None:
    error = VideoDecodeError("/x/1.mp4", "cannot decode")
    with pytest.raises(DataError, match="/x/1.mp4"):
        on_decode_failure(error, "error")
    on_decode_failure(error, "blank")  # warns, the caller uses the transcript only
    on_decode_failure(error, "skip")


def test_an_image_renamed_mp4_is_a_bad_video_under_every_policy(
    tiny_demo: Path, tmp_path: Path
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(tiny_demo, root)
    still = read_label_csv(root)[3].video_path
    Image.new("RGB", (64, 48), (200, 30, 30)).save(still, format="PNG")
    with pytest.raises(DataError, match=rf"{still}: an image \(png_pipe\), not a video"):
        load_dataset(root, video_policy="error", progress=False)
    assert len(load_dataset(root, video_policy="skip", progress=False).records) == 39
    blank = load_dataset(root, video_policy="blank", progress=False)
    assert [r.video_path for r in blank.records if not r.has_video] == [None]
    assert blank.video_report.bad == {
        still: "an image (png_pipe), not a video; each clip must be a real video (an mp4)"
    }
