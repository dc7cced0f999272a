"""The transfer set: unlabelled clips the teacher labels and the student learns from.

A transfer set is a folder in the MMSA raw layout without labels::

    ROOT/label.csv                 video_id,clip_id,text   (label, annotation, mode ignored)
    ROOT/Raw/<video_id>/<clip_id>.mp4

The teacher predicts every clip (same video policy, same modality mask as labelled clips), and
the student trains on them with the distillation term alone. Evaluation never sees them: a
clip id or a transcript that is also in the labelled valid or test split is an error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.mmsa_raw import LABEL_FILE, raw_video_path, read_records
from videoadviser.data.records import ClipRecord, join_problems
from videoadviser.data.videos import VideoReport, apply_video_policy
from videoadviser.errors import DataError

UNLABELLED = "unlabelled"  # the split name of transfer-set clips (never a labelled split)
REQUIRED_COLUMNS: tuple[str, ...] = ("video_id", "clip_id", "text")
IGNORED_COLUMNS: tuple[str, ...] = ("label", "annotation", "mode")
_SPACES = re.compile(r"\s+")


@dataclass
class TransferSet:
    """Unlabelled clips (``split == "unlabelled"``, label NaN) and the video check's report."""

    records: list[ClipRecord]
    source: str
    video_report: VideoReport

    def __len__(self) -> int:
        return len(self.records)

    def head(self, n: int) -> TransferSet:
        """The first ``n`` clips in file order (all of them when ``n`` is 0 or too large)."""
        if n <= 0 or n >= len(self.records):
            return self
        return TransferSet(self.records[:n], self.source, self.video_report)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "clips": len(self.records),
            "with_video": sum(r.has_video for r in self.records),
            "videos": self.video_report.as_dict(),
        }


def read_unlabelled_csv(root: str | Path) -> list[ClipRecord]:
    """Read ``ROOT/label.csv`` of a transfer set into records (label NaN), in file order.

    Raises:
        DataError: the folder or file is missing, a required column is missing, the file has
            no rows, or a row has empty ids or text or a duplicate ``video_id$_$clip_id``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: no such unlabelled folder; a transfer set is an MMSA raw-layout folder "
            "(label.csv with video_id,clip_id,text and Raw/<video_id>/<clip_id>.mp4); "
            "`videoadviser data make-demo DIR --unlabelled N` makes one for the embedded data"
        )
    path = root / LABEL_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: no label file; an unlabelled folder holds label.csv "
            "(video_id,clip_id,text) and Raw/<video_id>/<clip_id>.mp4"
        )
    return read_records(
        path,
        REQUIRED_COLUMNS,
        lambda row, where, columns: _row_to_record(row, root, where),
        needs=f"An unlabelled label.csv needs {', '.join(REQUIRED_COLUMNS)} "
        "(label, annotation and mode are ignored)",
    )


def _row_to_record(row: dict[str, str | None], root: Path, where: str) -> ClipRecord:
    video_id = (row.get("video_id") or "").strip()
    clip_id = (row.get("clip_id") or "").strip()
    text = (row.get("text") or "").strip()
    if not video_id or not clip_id:
        raise DataError(f"{where}: empty video_id or clip_id")
    if not text:
        raise DataError(f"{where}: empty text; every clip needs its transcript")
    extra = {
        k: v
        for k, v in row.items()
        if k not in REQUIRED_COLUMNS + IGNORED_COLUMNS and k is not None and v
    }
    return ClipRecord(
        video_id=video_id,
        clip_id=clip_id,
        text=text,
        label=math.nan,
        split=UNLABELLED,
        video_path=str(raw_video_path(root, video_id, clip_id, where)),
        extra=extra,
    )


def load_unlabelled(
    path: str | Path, video_policy: str = "error", progress: bool = True, limit: int = 0
) -> TransferSet:
    """Read a transfer set (its first ``limit`` clips when ``limit`` > 0) and apply the video
    policy (as :func:`load_dataset` does)."""
    records = read_unlabelled_csv(path)
    if limit > 0:
        records = records[:limit]
    records, report = apply_video_policy(records, video_policy, progress=progress)
    if not records:
        raise DataError(f"{path}: no unlabelled clip has a usable video under the skip policy")
    return TransferSet(records=records, source=str(path), video_report=report)


def normalise_text(text: str) -> str:
    """The form in which transcripts are compared for overlap: lower case, single spaces."""
    return _SPACES.sub(" ", text.strip().lower())


def check_no_overlap(dataset: SentimentDataset, transfer: TransferSet) -> None:
    """Refuse a transfer set that could leak into evaluation.

    A transfer clip whose ``video_id$_$clip_id`` is any labelled clip's, or whose transcript
    (compared by :func:`normalise_text`) is a valid or test clip's, is an error naming both.

    Raises:
        DataError: listing every overlapping clip.
    """
    labelled = {r.uid: r.split for r in dataset.records}
    held_out = {
        normalise_text(r.text): r.uid for r in dataset.records if r.split in ("valid", "test")
    }
    problems = []
    for record in transfer.records:
        if record.uid in labelled:
            problems.append(
                f"unlabelled clip {record.uid!r} has the id of a labelled "
                f"{labelled[record.uid]} clip"
            )
        other = held_out.get(normalise_text(record.text))
        if other is not None:
            problems.append(
                f"unlabelled clip {record.uid!r} has the transcript of {labelled[other]} clip "
                f"{other!r}: {record.text[:60]!r}"
            )
    if problems:
        raise DataError(
            join_problems(
                f"unlabelled clips in {transfer.source} overlap the labelled data", problems
            )
            + "\nRemove them from the unlabelled label.csv: evaluation must never see a "
            "transfer clip. Nothing was trained."
        )
