"""The frame cache: clips decoded once (in DataLoader workers), read a batch at a time."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import videoadviser.data.clips as clips
from videoadviser.data.clips import decode_into_cache
from videoadviser.data.dataset import load_dataset
from videoadviser.data.frames import decode_frames
from videoadviser.errors import DataError


@pytest.mark.parametrize("workers", [0, 2])
def test_clips_are_decoded_once_then_read_from_the_cache(
    tiny_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    records = load_dataset(tiny_demo, progress=False).split("train")[:10]
    records[3] = replace(records[3], video_path=None)  # a clip without video
    frames = decode_into_cache(records, tmp_path, 4, 32, workers=workers, progress=False)
    assert frames.has_video.tolist() == [i != 3 for i in range(10)]
    batch = frames.read([0, 3, 9])
    assert batch.shape == (3, 4, 32, 32, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], decode_frames(records[0].video_path, 4, 32))
    assert not batch[1].any()  # zeros where there is no video

    def no_decoding(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("cached clips are not decoded again")

    monkeypatch.setattr(clips, "decode_frames", no_decoding)
    again = decode_into_cache(records, tmp_path, 4, 32, workers=0, progress=False)
    np.testing.assert_array_equal(again.read([0, 3, 9]), batch)
    monkeypatch.undo()

    # an edited video gets a new entry; another sampling has its own
    stat = os.stat(records[0].video_path)
    os.utime(records[0].video_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    try:
        edited = decode_into_cache(records[:1], tmp_path, 4, 32, workers=0, progress=False)
        assert edited.entries[0] != frames.entries[0]
    finally:
        os.utime(records[0].video_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other = decode_into_cache(records[:2], tmp_path, 2, 16, workers=0, progress=False)
    assert other.read([1]).shape == (1, 2, 16, 16, 3)


@pytest.mark.parametrize("workers", [0, 2])  # the failure crosses from a worker process
def test_a_clip_that_fails_to_decode_follows_the_policy(
    tiny_demo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, workers: int
) -> None:
    records = load_dataset(tiny_demo, progress=False).split("train")[:10]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2000)
    records[1] = replace(records[1], video_path=str(broken))
    with pytest.raises(DataError, match="broken.mp4"):
        decode_into_cache(records, tmp_path / "c", 4, 32, "error", workers, progress=False)
    with caplog.at_level("WARNING"):
        frames = decode_into_cache(records, tmp_path / "c", 4, 32, "blank", workers, False)
    assert frames.has_video.tolist() == [i != 1 for i in range(10)]
    assert "broken.mp4" in caplog.text
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_the_videos_fingerprint_sees_a_replaced_touched_or_missing_video(tmp_path: Path) -> None:
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    clips_now = [("x", a), ("y", b), ("z", None)]
    first = clips.videos_fingerprint(clips_now)
    assert clips.videos_fingerprint(clips_now) == first  # stat only: the same files, the same
    os.utime(a, ns=(1, 1))
    touched = clips.videos_fingerprint(clips_now)
    assert touched != first
    a.write_bytes(b"three")  # other bytes, the same mtime
    os.utime(a, ns=(1, 1))
    assert clips.videos_fingerprint(clips_now) not in (first, touched)
    b.unlink()
    assert clips.video_stamp(b) == clips.video_stamp(None) == "-"
