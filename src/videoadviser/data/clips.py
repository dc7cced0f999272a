"""Decoded clips on disk: each clip's sampled frames are decoded once, in DataLoader workers,
into a per-clip cache, and training reads a batch's clips from it. Nothing that grows with
the number of clips is held in memory, so a MOSEI-size dataset trains in the memory a
MOSI-size one does.

Cache layout: ``CACHE/frames/<T>x<S>/<ab>/<entry>.npy``, one ``(T, S, S, 3)`` uint8 array
per clip, named by a hash of the clip's id and its video file's size and modification time
(an edited video is decoded again). Entries are written atomically; a clip that fails to
decode is never cached and follows the video policy.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from videoadviser.data.frames import decode_frames
from videoadviser.data.records import ClipRecord
from videoadviser.data.videos import on_decode_failure
from videoadviser.errors import VideoDecodeError
from videoadviser.utils.io import write_bytes


def file_stamp(path: str) -> str:
    """A video file's size and modification time: a changed file gets a new cache entry."""
    stat = Path(path).stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def video_stamp(path: str | Path | None) -> str:
    """:func:`file_stamp` of a clip's video, or ``-`` for a clip without one."""
    return file_stamp(str(path)) if path is not None and Path(path).is_file() else "-"


def videos_fingerprint(videos: Iterable[tuple[str, str | Path | None]]) -> str:
    """A short hash of the :func:`video_stamp` of each ``(clip name, video path)``, in order:
    a video replaced, edited, added or removed changes it. Only ``stat`` is called, so it
    stays cheap on thousands of clips (a stage's stamp holds it)."""
    digest = hashlib.sha256()
    for name, path in videos:
        digest.update(f"{name}:{video_stamp(path)}".encode())
    return digest.hexdigest()[:16]


def default_workers(workers: int) -> int:
    """``workers`` as given, or for -1 one per CPU core (at most 8)."""
    return min(os.cpu_count() or 1, 8) if workers < 0 else workers


@dataclass
class ClipFrames:
    """The frames of N clips, read from the cache a batch at a time.

    ``entries[i]`` is clip i's cache file, or ``None`` when it has no usable video.
    """

    entries: list[Path | None]
    num_frames: int
    image_size: int

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def has_video(self) -> np.ndarray:
        """``(N,)`` bool."""
        return np.array([e is not None for e in self.entries], dtype=bool)

    def read(self, index: Sequence[int] | torch.Tensor) -> np.ndarray:
        """Frames of the clips at ``index``: ``(B, T, S, S, 3)`` uint8, zeros without video."""
        rows = [int(i) for i in index]
        t, s = self.num_frames, self.image_size
        out = np.zeros((len(rows), t, s, s, 3), dtype=np.uint8)
        for row, i in enumerate(rows):
            entry = self.entries[i]
            if entry is not None:
                out[row] = np.load(entry, allow_pickle=False)
        return out


def _as_is(item: VideoDecodeError | None) -> VideoDecodeError | None:
    return item  # module level: workers started by spawn must pickle it


class _DecodeJobs(Dataset):  # type: ignore[type-arg]
    """Decode clip ``i`` and write its cache entry; yields ``None`` or the failure."""

    def __init__(self, jobs: list[tuple[str, Path]], num_frames: int, image_size: int) -> None:
        self.jobs, self.num_frames, self.image_size = jobs, num_frames, image_size

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, i: int) -> VideoDecodeError | None:
        video, entry = self.jobs[i]
        try:
            frames = decode_frames(video, self.num_frames, self.image_size)
        except VideoDecodeError as error:
            return error
        buffer = io.BytesIO()
        np.save(buffer, frames, allow_pickle=False)
        write_bytes(entry, buffer.getvalue())
        return None


def decode_into_cache(
    records: list[ClipRecord],
    cache_dir: str | Path,
    num_frames: int,
    image_size: int,
    video_policy: str = "error",
    workers: int = -1,
    progress: bool = True,
) -> ClipFrames:
    """Decode every record's clip that the cache lacks, in ``workers`` DataLoader worker
    processes (0: in this process; -1: one per core, at most 8), and return the clips' frames.

    Records without a video path, and clips that fail to decode under the ``skip`` / ``blank``
    policies, have no frames (``error`` raises, naming the file).
    """
    folder = Path(cache_dir) / "frames" / f"{num_frames}x{image_size}"
    entries: list[Path | None] = []
    jobs: list[tuple[str, Path]] = []
    positions: list[int] = []
    for i, record in enumerate(records):
        if record.video_path is None or not Path(record.video_path).is_file():
            entries.append(None)  # the video check already applied the policy to these
            continue
        key = f"{record.uid}\0{file_stamp(record.video_path)}".encode()
        name = hashlib.sha256(key).hexdigest()[:24]
        entry = folder / name[:2] / f"{name}.npy"
        entries.append(entry)
        if not entry.is_file():
            jobs.append((record.video_path, entry))
            positions.append(i)
    if jobs:
        workers = default_workers(workers) if len(jobs) > 8 else 0
        loader = DataLoader(
            _DecodeJobs(jobs, num_frames, image_size),
            batch_size=None,
            num_workers=workers,
            collate_fn=_as_is,
        )
        bar = tqdm(loader, desc="decoding frames", unit="clip", disable=not progress)
        for position, failure in zip(positions, bar):
            if failure is not None:
                on_decode_failure(failure, video_policy)
                entries[position] = None
    return ClipFrames(entries, num_frames, image_size)
