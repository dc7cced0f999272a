"""The texts ``videoadviser predict`` scores: given on the command line, one a line in a text
file, or a column of a CSV. Each input row gives exactly one output row, in order.

Empty texts are refused as the dataset loader refuses a clip with an empty transcript: a
text that is empty or only blanks is an error naming every such row (its line in the file),
never a score of nothing and never a row silently dropped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from videoadviser.data.records import join_problems, numbered_rows
from videoadviser.errors import DataError
from videoadviser.utils.io import check_output_file, csv_header, read_user_text

# the column ``predict --out`` adds to the input's: a name no user's file has by chance, so
# that a header row ending with it marks a file videoadviser wrote (``sentiment`` would not)
SCORE_COLUMN = "videoadviser_score"


@dataclass
class TextRows:
    """What to score and the output rows they belong to: ``texts[i]`` is ``rows[i]``'s text.

    ``rows`` are the CSV's rows (every column kept) or ``{"text": ...}``.
    """

    texts: list[str]
    rows: list[dict[str, object]]


def read_texts(
    texts: Sequence[str] = (),
    file: Path | None = None,
    csv_file: Path | None = None,
    text_column: str = "text",
) -> TextRows:
    """The texts to score, from exactly one of ``texts``, ``file`` (one text a line) or
    ``csv_file`` (its ``text_column``).

    Raises:
        DataError: no input or more than one, a missing file or column, a CSV that already has
            a :data:`SCORE_COLUMN`, a file that is not UTF-8, a CSV row with more fields than
            its header, no text at all, or empty texts (naming each: argument, file line or
            CSV line).
    """
    given = [
        name for name, value in (("TEXT", texts), ("--file", file), ("--csv", csv_file)) if value
    ]
    if len(given) != 1:
        raise DataError(
            "give text to score, --file TXT (one text per line) or --csv CSV"
            + (f"; not more than one (got {' and '.join(given)})" if given else "")
        )
    for path in (file, csv_file):
        if path is not None and not path.is_file():
            raise DataError(f"{path}: no such file")
    if csv_file is not None:
        return _csv_rows(csv_file, text_column)
    if file is not None:
        lines = _file_lines(file)
        return _checked([line.strip() for line in lines], [f"{file}:{i}" for i in _count(lines)])
    return _checked(list(texts), [f"text argument {i}" for i in _count(texts)])


def scored_columns(given: TextRows) -> list[str]:
    """The header row ``predict --out`` writes for ``given``: the input's columns (``text``
    for texts given as arguments or a text file), then :data:`SCORE_COLUMN` (which no input
    has: :func:`read_texts` refuses a CSV with one)."""
    return [*given.rows[0], SCORE_COLUMN]  # type: ignore[list-item]


def check_scores_file(
    path: Path,
    given: TextRows,
    overwrite: bool = False,
    inputs: dict[str, Path | None] | None = None,
) -> Path:
    """Check, before any scoring, that the scores of ``given`` may be written to ``path``: an
    existing file is replaced only with ``overwrite`` and only if it is a scores file this
    input gives (its header row exactly :func:`scored_columns`); never one of ``inputs``
    (:func:`~videoadviser.utils.io.check_output_file`). A scores file for other input columns
    is told as such, and kept."""
    columns = scored_columns(given)

    def other_columns(existing: Path) -> str | None:
        header = csv_header(existing)
        if not header or header[-1] != SCORE_COLUMN:
            return None
        return f"a predictions CSV for other columns (header row {','.join(header)})"

    return check_output_file(
        path,
        "--out",
        kind=f"a predictions CSV with the header row {','.join(columns)}",
        is_kind=lambda existing: csv_header(existing) == columns,
        other_kind=other_columns,
        overwrite=overwrite,
        inputs=inputs,
    )


def _count(items: Sequence[object]) -> range:
    return range(1, len(items) + 1)


def _file_lines(path: Path) -> list[str]:
    """The lines of a text file as an editor numbers them (``\\n`` or ``\\r\\n`` ends one; a
    last line needs no ending)."""
    lines = read_user_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _csv_rows(path: Path, column: str) -> TextRows:
    """The rows of a CSV to score, one per row of the file, blank lines too (an empty text,
    refused by :func:`_checked`), each named by the line it starts on (as ``grep -n`` and an
    editor number them: :func:`~videoadviser.data.records.numbered_rows`)."""
    with io.StringIO(read_user_text(path), newline="") as handle:
        columns, numbered = numbered_rows(handle, path, keep_blank=True)
        if columns and column not in columns:
            raise DataError(
                f"{path}: no column {column!r} (found {', '.join(columns)}); use --text-column"
            )
        if SCORE_COLUMN in columns:  # refused, not replaced: its scores would be lost
            raise DataError(
                f"{path}: already has a column {SCORE_COLUMN!r} (the scores of an earlier "
                "`predict --out`?), which predict adds and would overwrite: give the CSV "
                "without that column, or rename it"
            )
        rows: list[dict[str, object]] = []
        wheres: list[str] = []
        for line, row in numbered:
            rows.append(dict(row))  # type: ignore[arg-type]
            wheres.append(f"{path}:{line}")
    texts = [str(row.get(column) or "") for row in rows]
    return _checked(texts, wheres, rows)


def _checked(
    texts: list[str], wheres: list[str], rows: list[dict[str, object]] | None = None
) -> TextRows:
    """``texts`` with their rows, after refusing none at all and empty ones."""
    if not texts:
        raise DataError("no text to score (the input is empty)")
    empty = [where for where, text in zip(wheres, texts) if not text.strip()]
    if empty:
        raise DataError(
            join_problems("empty texts", empty)
            + "\nEvery input row is scored, one output row each, and an empty text has no "
            "score (the dataset loader refuses empty transcripts too): remove those rows or "
            "give them text."
        )
    return TextRows(texts, rows if rows is not None else [{"text": t} for t in texts])
