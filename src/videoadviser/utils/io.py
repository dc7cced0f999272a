"""Atomic file output: every file and folder this package writes goes through here.

A file is written to a temporary sibling, flushed, fsync'ed and renamed over the target,
so a crash leaves either the old file or the new one, never a half-written file that a later
run would trust.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from videoadviser.utils.ownership import check_replaceable, write_manifest


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing; the content appears there only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes by file name (h5py); it is
    renamed to ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


@contextmanager
def _suppress_oserror() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


@contextmanager
def staged_folder(target: str | Path, kind: str, **details: Any) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``target`` (old one removed).

    The new folder is a product of ``kind`` (its manifest lists its files, with ``details``:
    :func:`~videoadviser.utils.ownership.write_manifest`). An existing ``target`` is replaced
    only if it is a product of the same kind holding nothing else; otherwise a ConfigError
    names the files, before anything is written
    (:func:`~videoadviser.utils.ownership.check_replaceable`).

    The swap is two renames: ``target`` aside into ``.<name>.old.*/x``, then the new folder in.
    A kill between them leaves no ``target`` but a complete old one, which
    :func:`recover_folder` (called by the trainers when they start, on the folders they own)
    puts back; a kill while the new folder is written leaves only a ``.<name>.*`` staging
    folder, which no reader looks at.
    """
    target = Path(target)
    check_replaceable(target, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        write_manifest(staging, kind, **details)
        check_replaceable(target, kind)  # nothing of a user's arrived there meanwhile
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, old / "x")
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def recover_folder(target: str | Path) -> None:
    """Undo what a kill during :func:`staged_folder` left: put a complete old ``target`` back if
    the new one never arrived, and remove leftover staging folders. Not for folders that
    several processes write at once (only the main process writes checkpoints)."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    leftovers = sorted(target.parent.glob(f".{target.name}.*"))
    for leftover in leftovers:
        aside = leftover / "x"
        if not target.exists() and ".old." in leftover.name and aside.is_dir():
            os.replace(aside, target)
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_open(path) as handle:
        handle.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write UTF-8 ``text`` to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, paths and non-finite floats into strict-JSON values.

    NaN and infinities become ``None`` (JSON ``null``): strict JSON has no NaN.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return to_jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write ``obj`` as indented strict JSON."""
    text = json.dumps(to_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)
    write_text(path, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file (data only: JSON cannot execute code)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], fieldnames: Sequence[str]
) -> None:
    """Atomically write ``rows`` as CSV with a header line of ``fieldnames``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: to_jsonable(row.get(k)) for k in fieldnames})
    write_text(path, buffer.getvalue())
