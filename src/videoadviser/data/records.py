"""The clip record every reader produces, and the label checks every reader shares."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from videoadviser.errors import DataError

SPLITS: tuple[str, ...] = ("train", "valid", "test")
LABEL_MIN, LABEL_MAX = -3.0, 3.0
ID_SEPARATOR = "$_$"  # MMSA's join of video_id and clip_id in processed pickles


@dataclass
class ClipRecord:
    """One utterance clip: its ids, transcript, label and where its video lives.

    ``video_path`` is ``None`` for a clip with no usable video (``blank`` policy); the teacher
    then sees the transcript only, through its modality mask.
    """

    video_id: str
    clip_id: str
    text: str
    label: float
    split: str
    video_path: str | None = None
    extra: dict[str, float | str] = field(default_factory=dict)

    @property
    def uid(self) -> str:
        """MMSA's clip key ``video_id$_$clip_id``."""
        return f"{self.video_id}{ID_SEPARATOR}{self.clip_id}"

    @property
    def has_video(self) -> bool:
        return self.video_path is not None


def is_plain_name(value: str) -> bool:
    """Whether an id can name a file inside a dataset folder: not ``.`` or ``..``, no path
    separator or NUL, not absolute (so a path built from it stays inside the folder)."""
    return (
        value not in (".", "..")
        and not any(c in value for c in "/\\\0")
        and not (Path(value).is_absolute())
    )


def parse_label(raw: object, where: str, column: str = "label") -> float:
    """Parse one sentiment label, or raise a :class:`DataError` naming ``where`` and the fix."""
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(
            f"{where}: {column} {raw!r} is not a number; labels must be numbers in "
            f"[{LABEL_MIN:g}, {LABEL_MAX:g}]"
        ) from None
    if math.isnan(value):
        raise DataError(
            f"{where}: {column} is NaN; give every clip a numeric label or drop the row"
        )
    if not LABEL_MIN <= value <= LABEL_MAX:
        raise DataError(
            f"{where}: {column} {value:g} is outside [{LABEL_MIN:g}, {LABEL_MAX:g}]; "
            "MOSI/MOSEI sentiment scores lie in that range"
        )
    return value


def check_unique_ids(records: list[ClipRecord], wheres: list[str]) -> None:
    """Raise a :class:`DataError` listing every clip key that occurs more than once."""
    first_seen: dict[str, str] = {}
    problems: list[str] = []
    for record, where in zip(records, wheres, strict=True):
        if record.uid in first_seen:
            problems.append(
                f"{where}: duplicate clip {record.uid!r} (first at {first_seen[record.uid]})"
            )
        else:
            first_seen[record.uid] = where
    if problems:
        raise DataError(join_problems("duplicate clip ids", problems))


def join_problems(title: str, problems: list[str], limit: int = 20) -> str:
    """One message for many problems: a count, then up to ``limit`` of them, one per line."""
    shown = problems[:limit]
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} {title}:\n  " + "\n  ".join(shown) + more


def records_fingerprint(records: list[ClipRecord]) -> str:
    """A short hash of what training sees of ``records``: ids, splits, labels, transcripts and
    which clips have video, in order. The same clips give the same hash wherever the dataset
    folder lives; a changed label or transcript, an added or dropped clip, changes it."""
    digest = hashlib.sha256()
    for r in records:
        label = None if math.isnan(r.label) else r.label
        digest.update(json.dumps([r.uid, r.split, label, r.text, r.has_video]).encode())
    return digest.hexdigest()[:16]


class _EditorLines:
    """The lines a csv reader reads from a file opened with ``newline=""``, with the number an
    editor, ``wc -l`` and ``grep -n`` give them: only ``\\n`` (or ``\\r\\n``) ends a line,
    or a lone ``\\r`` that ends a row (a file with old Mac line ends); a ``\\r`` inside quoted
    text does not, though Python hands it over as a line of its own."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.line = 1  # the line the next piece starts on
        self.pieces: list[tuple[int, str]] = []  # (line, text) read since the last row

    def __iter__(self) -> _EditorLines:
        return self

    def __next__(self) -> str:
        piece = next(self.handle)
        self.pieces.append((self.line, piece))
        self.line += piece.count("\n")
        return piece

    def row_start(self) -> int:
        """The line on which the row just read began (blank lines before it skipped)."""
        lone_crs = 0  # blank lines before the row ended by a lone CR: they count
        start = self.line
        for line, piece in self.pieces:
            if piece.strip("\r\n"):
                start = line + lone_crs
                break
            lone_crs += piece == "\r"
        last = self.pieces[-1][1] if self.pieces else ""
        self.line += lone_crs + (last.endswith("\r") and bool(last.strip("\r\n")))
        self.pieces.clear()
        return start


def numbered_rows(handle: TextIO) -> tuple[list[str], Iterator[tuple[int, dict[str, str | None]]]]:
    """A CSV file's columns and its rows (as :class:`csv.DictReader` gives them), each with
    the line it starts on as an editor numbers lines (a row whose quoted text holds line
    breaks starts where its first field is). ``handle`` is opened with ``newline=""``."""
    lines = _EditorLines(handle)
    reader = csv.DictReader(lines)
    columns = list(reader.fieldnames or [])
    lines.row_start()  # the header

    def rows() -> Iterator[tuple[int, dict[str, str | None]]]:
        for row in reader:
            yield lines.row_start(), row

    return columns, rows()
