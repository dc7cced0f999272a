"""Load a sentiment dataset from any supported source into clip records with a video report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from videoadviser.data.mmsa_pickle import read_processed_pickle
from videoadviser.data.mmsa_raw import read_label_csv
from videoadviser.data.records import SPLITS, ClipRecord
from videoadviser.data.videos import VideoReport, apply_video_policy
from videoadviser.errors import DataError, VideoAdviserError
from videoadviser.utils.io import read_json

SUMMARY_KEYS = ("source", "clips", "splits", "with_video", "videos")  # of summary()

MIN_SPLIT_CLIPS = 2  # Pearson's r needs two points


@dataclass
class SentimentDataset:
    """Clip records of every split, with where they came from and what the video check found."""

    records: list[ClipRecord]
    source: str
    video_report: VideoReport

    def split(self, name: str) -> list[ClipRecord]:
        """The records of one split, in source order."""
        if name not in SPLITS:
            raise ValueError(f"split {name!r} is not one of {', '.join(SPLITS)}")
        return [r for r in self.records if r.split == name]

    def summary(self) -> dict[str, object]:
        """What ``videoadviser data check`` prints and writes (its keys: :data:`SUMMARY_KEYS`)."""
        counts = Counter(r.split for r in self.records)
        return {
            "source": self.source,
            "clips": len(self.records),
            "splits": {s: counts.get(s, 0) for s in SPLITS},
            "with_video": sum(r.has_video for r in self.records),
            "videos": self.video_report.as_dict(),
        }


def is_summary_file(path: str | Path) -> bool:
    """Whether ``path`` is a summary ``data check --json`` wrote: a JSON object with exactly
    the keys of :meth:`SentimentDataset.summary`."""
    try:
        content = read_json(path)
    except (OSError, VideoAdviserError):
        return False
    return isinstance(content, dict) and list(content) == list(SUMMARY_KEYS)


def load_dataset(
    path: str | Path,
    video_policy: str = "error",
    raw_root: str | Path | None = None,
    progress: bool = True,
) -> SentimentDataset:
    """Load a dataset and apply the video policy.

    Args:
        path: an MMSA raw-layout folder (``label.csv`` + ``Raw/``), or an MMSA processed pickle.
        video_policy: ``error`` | ``skip`` | ``blank`` (see :mod:`videoadviser.data.videos`).
        raw_root: for a pickle, the raw-layout folder holding its videos (default: the pickle's
            folder if it has a ``Raw/`` subfolder, else no videos).
        progress: show a progress bar while checking videos.
    """
    path = Path(path)
    if path.is_dir():
        records = read_label_csv(path)
    elif path.suffix == ".pkl" and path.is_file():
        if raw_root is None and (path.parent / "Raw").is_dir():
            raw_root = path.parent
        records = read_processed_pickle(path, raw_root=raw_root)
    else:
        raise DataError(
            f"{path}: not a dataset; give an MMSA raw-layout folder (label.csv + Raw/) or an "
            "MMSA processed .pkl file"
        )
    records, report = apply_video_policy(records, video_policy, progress=progress)
    counts = Counter(r.split for r in records)
    small = [f"{s} ({counts[s]})" for s in SPLITS if counts[s] < MIN_SPLIT_CLIPS]
    if small:
        raise DataError(
            f"{path}: split(s) {', '.join(small)} have fewer than {MIN_SPLIT_CLIPS} clips; "
            "Corr and the F1 scores are undefined on fewer, so every split needs at least "
            f"{MIN_SPLIT_CLIPS} (set each clip's split: mode in label.csv)"
        )
    constant = [s for s in SPLITS if len({r.label for r in records if r.split == s}) < 2]
    if constant:
        raise DataError(
            f"{path}: every clip of split(s) {', '.join(constant)} has the same label; Corr "
            "is undefined on such a split, so each split needs at least two different labels"
        )
    return SentimentDataset(records=records, source=str(path), video_report=report)
