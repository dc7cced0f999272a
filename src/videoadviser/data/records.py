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
from videoadviser.utils.io import beside

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
    """The lines a csv reader reads from a file opened with ``newline=""``, numbered as
    ``grep -n`` and ``wc -l`` number them: only ``\\n`` (or ``\\r\\n``) ends a line. A
    ``\\r`` inside quoted text is text, though Python hands it over as a line of its own. A
    lone ``\\r`` outside quotes ends a CSV row where grep sees no line end (editors
    disagree), so a file with one before its end is refused: its rows could not be named by
    their lines."""

    def __init__(self, handle: TextIO, path: str | Path) -> None:
        self.handle = handle
        self.path = path
        self.line = 1  # the line the next piece starts on
        self.pieces: list[tuple[int, str]] = []  # (line, text) read since the last row
        self.lone_cr: int | None = None  # the line of a lone CR that ended the last row

    def __iter__(self) -> _EditorLines:
        return self

    def __next__(self) -> str:
        piece = next(self.handle)
        if self.lone_cr is not None:  # something follows it: rows and lines part ways
            raise DataError(
                f"{self.path}:{self.lone_cr}: a carriage return (\\r) not followed by a line "
                "feed ends a CSV row here, outside quoted text, but grep -n and wc -l see no "
                "line end there (and editors disagree), so the rows cannot be named by their "
                "lines. Give the file \\n or \\r\\n line ends, e.g. "
                f"`perl -pe 's/\\r\\n?/\\n/g' {self.path} > {beside(self.path, '-lf')}`"
            )
        self.pieces.append((self.line, piece))
        self.line += piece.count("\n")
        return piece

    def row_start(self) -> int:
        """The line on which the row just read (by a :func:`csv.reader`, which reads a blank
        line as a row of its own) begins; a lone ``\\r`` that ended it is refused when the
        next piece is read."""
        (start, _), (last, end) = self.pieces[0], self.pieces[-1]
        self.pieces.clear()
        self.lone_cr = last if end.endswith("\r") else None
        return start


FIELD_LIMIT = 1 << 24  # characters a CSV field may hold (16 Mi; the csv module's own: 128 Ki)


def numbered_rows(
    handle: TextIO, path: str | Path, keep_blank: bool = False
) -> tuple[list[str], Iterator[tuple[int, dict[str | None, str | None]]]]:
    """A CSV file's columns (its first row that is not blank) and its rows as
    :class:`csv.DictReader` gives them (a shorter row gets ``None`` for the missing cells),
    each with the line it starts on as ``grep -n`` numbers lines (a row whose quoted text
    holds line breaks starts where its first field is). ``handle`` is opened with
    ``newline=""``; ``path`` names the file in errors. Blank lines are skipped, as a
    DictReader skips them, unless ``keep_blank``: then each is a row of ``None`` cells (one
    input row, one output row). A field may hold up to :data:`FIELD_LIMIT` characters.

    The one CSV reader of a user's files: every reader refuses what it refuses.

    Raises:
        DataError: while reading, a lone ``\\r`` that ends a row before the end of the file
            (:class:`_EditorLines`), or what the csv module cannot read (a field longer than
            :data:`FIELD_LIMIT`), naming its line; once every row was read, the rows with more
            fields than the header (an unquoted comma in a text would split it, and its rest
            would be lost), all of them by line.
    """
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    lines = _EditorLines(handle, path)
    reader = _read_cells(csv.reader(lines), lines)
    columns: list[str] = []
    for header in reader:
        lines.row_start()
        if header:
            columns = header
            break

    def rows() -> Iterator[tuple[int, dict[str | None, str | None]]]:
        too_long: list[str] = []
        for cells in reader:
            line = lines.row_start()
            if len(cells) > len(columns):
                too_long.append(
                    f"{path}:{line}: {len(cells)} fields, but the header has {len(columns)}"
                )
            elif cells or keep_blank:
                yield line, _as_dict(columns, cells)
        if too_long:
            raise DataError(
                join_problems(f"rows with more fields than the header in {path}", too_long)
                + "\nA comma in a text that is not in double quotes splits it into fields: "
                'quote such texts ("like, this"), doubling any quote inside them.'
            )

    return columns, rows()


def _read_cells(reader: Iterator[list[str]], lines: _EditorLines) -> Iterator[list[str]]:
    """The rows of ``reader``, a :class:`csv.Error` turned into a DataError naming the line
    of the row it was reading."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            line = lines.pieces[0][0] if lines.pieces else lines.line
            reason = str(error)
            if "field larger than field limit" in reason:
                reason = (
                    f"a field is longer than {csv.field_size_limit():,} characters, the most a "
                    "field may hold; the file is damaged (a quote opened and never closed "
                    "makes the rest of the file one field) or that text must be shortened"
                )
            raise DataError(f"{lines.path}:{line}: not readable as CSV: {reason}") from None
        yield cells


def _as_dict(columns: list[str], cells: list[str]) -> dict[str | None, str | None]:
    """One CSV row as :class:`csv.DictReader` makes it from ``cells`` (no more of them than
    ``columns``: :func:`numbered_rows` refuses a longer row)."""
    row: dict[str | None, str | None] = dict(zip(columns, cells))
    row.update((column, None) for column in columns[len(cells) :])
    return row
