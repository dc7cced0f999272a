"""Decode the frames of many clips at once, in parallel, under the video policy."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from tqdm.auto import tqdm

from videoadviser.data.frames import decode_frames
from videoadviser.data.records import ClipRecord
from videoadviser.data.videos import on_decode_failure
from videoadviser.errors import VideoDecodeError


def _decode_one(job: tuple[str, int, int]) -> np.ndarray | VideoDecodeError:
    path, num_frames, image_size = job
    try:
        return decode_frames(path, num_frames, image_size)
    except VideoDecodeError as error:
        return error


def decode_records(
    records: list[ClipRecord],
    num_frames: int,
    image_size: int,
    video_policy: str = "error",
    workers: int | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames of every record, resized and centre-cropped (not yet normalised).

    Returns:
        frames ``(N, T, S, S, 3)`` uint8 (zeros where there is no video) and
        has_video ``(N,)`` bool: False for records without a video path and for clips that
        fail to decode under the ``skip``/``blank`` policies (``error`` raises).
    """
    n = len(records)
    frames = np.zeros((n, num_frames, image_size, image_size, 3), dtype=np.uint8)
    has_video = np.zeros(n, dtype=bool)
    todo = [i for i, r in enumerate(records) if r.video_path is not None]
    jobs = [(records[i].video_path, num_frames, image_size) for i in todo]
    workers = workers or min(os.cpu_count() or 1, 8)
    bar = tqdm(total=len(jobs), desc="decoding frames", unit="clip", disable=not progress)
    if workers > 1 and len(jobs) > 8:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = pool.map(_decode_one, jobs, chunksize=16)
            _collect(results, todo, frames, has_video, video_policy, bar)
    else:
        _collect(map(_decode_one, jobs), todo, frames, has_video, video_policy, bar)
    bar.close()
    return frames, has_video


def _collect(results, todo, frames, has_video, video_policy, bar) -> None:  # type: ignore[no-untyped-def]
    for index, result in zip(todo, results):
        if isinstance(result, VideoDecodeError):
            on_decode_failure(result, video_policy)
        else:
            frames[index] = result
            has_video[index] = True
        bar.update(1)
