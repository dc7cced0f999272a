"""Reader for the MMSA raw layout (CMU-MOSI, CMU-MOSEI, CH-SIMS).

::

    ROOT/label.csv                       video_id,clip_id,text,label,annotation,mode[,label_T,...]
    ROOT/Raw/<video_id>/<clip_id>.mp4

``mode`` is the split (train / valid / test). Every bad row is reported in one error that names
the file and the CSV line.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

from videoadviser.data.records import (
    SPLITS,
    ClipRecord,
    check_unique_ids,
    is_plain_name,
    join_problems,
    numbered_rows,
    parse_label,
)
from videoadviser.errors import DataError
from videoadviser.utils.io import read_user_text

LABEL_FILE = "label.csv"
REQUIRED_COLUMNS: tuple[str, ...] = ("video_id", "clip_id", "text", "label", "mode")


def raw_video_path(root: str | Path, video_id: str, clip_id: str, where: str) -> Path:
    """Where the MMSA raw layout keeps a clip: ``ROOT/Raw/<video_id>/<clip_id>.mp4``.

    Videos are read only from inside ``root``: an id that is not a plain name (``..``, a
    separator, an absolute path) and a file that is a link to somewhere outside ``root`` are
    refused. Linking the whole dataset folder elsewhere is fine.

    Raises:
        DataError: naming ``where`` (the file and line, or the clip) and the id or link.
    """
    for field, value in (("video_id", video_id), ("clip_id", clip_id)):
        if not is_plain_name(value):
            raise DataError(
                f"{where}: {field} {value!r} is not a plain name (no '/', '\\', or '..'); "
                "videos are read only from inside the dataset folder"
            )
    path = Path(root) / "Raw" / video_id / f"{clip_id}.mp4"
    target = path.resolve()
    if not target.is_relative_to(_resolved(str(Path(root).absolute()))):
        raise DataError(
            f"{where}: {path} links to {target}, outside the dataset folder {root}; "
            "videos are read only from inside it (copy the file in, or link the whole "
            "dataset folder instead)"
        )
    return path


@functools.lru_cache(maxsize=16)
def _resolved(root: str) -> Path:
    return Path(root).resolve()  # root is absolute: the cache never depends on the cwd


def read_label_csv(root: str | Path) -> list[ClipRecord]:
    """Read ``ROOT/label.csv`` into clip records, in file order.

    Every record gets ``video_path`` set to where its mp4 should be; whether it exists and
    decodes is the video policy's business (:mod:`videoadviser.data.videos`).

    Raises:
        DataError: the file is missing, lacks a required column, or has rows with a bad label,
            an unknown split, empty ids or text, or duplicate ``video_id$_$clip_id`` keys.
    """
    root = Path(root)
    path = root / LABEL_FILE
    if not path.is_file():
        raise DataError(
            f"{path}: no label file; a dataset folder in the MMSA raw layout holds label.csv "
            "and Raw/<video_id>/<clip_id>.mp4 (try `videoadviser data make-demo DIR`)"
        )
    return read_records(
        path,
        REQUIRED_COLUMNS,
        lambda row, where, columns: _row_to_record(row, root, where, columns),
        needs=f"label.csv needs {', '.join(REQUIRED_COLUMNS)}",
    )


def read_records(
    path: Path,
    required: tuple[str, ...],
    convert: Callable[[dict[str, str | None], str, list[str]], ClipRecord],
    needs: str,
) -> list[ClipRecord]:
    """Records from a label CSV, one per row through ``convert(row, "file:line", columns)``.

    Raises:
        DataError: a required column is missing (``needs`` says what the file must hold), rows
            that ``convert`` refuses (all of them, in one message), no rows, duplicate ids.
    """
    with io.StringIO(read_user_text(path), newline="") as handle:
        columns, rows = numbered_rows(handle, path)
        missing = [c for c in required if c not in columns]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {', '.join(missing)}; "
                f"found {', '.join(columns) or 'none'}. {needs}"
            )
        records: list[ClipRecord] = []
        wheres: list[str] = []
        problems: list[str] = []
        for line, row in rows:
            where = f"{path}:{line}"
            try:
                records.append(convert(row, where, columns))
                wheres.append(where)
            except DataError as error:
                problems.append(str(error))
    if problems:
        raise DataError(join_problems(f"bad rows in {path}", problems))
    if not records:
        raise DataError(f"{path}: no data rows")
    check_unique_ids(records, wheres)
    return records


def _row_to_record(
    row: dict[str, str | None], root: Path, where: str, columns: list[str]
) -> ClipRecord:
    if any(row.get(c) is None for c in REQUIRED_COLUMNS):  # (a longer row: numbered_rows)
        raise DataError(
            f"{where}: fewer than the header's {len(columns)} fields; check the row's commas"
        )
    video_id = (row["video_id"] or "").strip()
    clip_id = (row["clip_id"] or "").strip()
    text = (row["text"] or "").strip()
    split = (row["mode"] or "").strip()
    if not video_id or not clip_id:
        raise DataError(f"{where}: empty video_id or clip_id")
    if not text:
        raise DataError(f"{where}: empty text; every clip needs its transcript")
    if split not in SPLITS:
        raise DataError(f"{where}: mode {split!r} is not one of {', '.join(SPLITS)}")
    label = parse_label(row["label"], where)
    extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS and k is not None and v}
    return ClipRecord(
        video_id=video_id,
        clip_id=clip_id,
        text=text,
        label=label,
        split=split,
        video_path=str(raw_video_path(root, video_id, clip_id, where)),
        extra=extra,
    )
