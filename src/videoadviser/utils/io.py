"""Atomic file output: every file and folder this package writes goes through here; and the
one reader of a user's text files (:func:`read_user_text`).

A file is written to a temporary sibling, flushed, fsync'ed and renamed over the target,
so a crash leaves either the old file or the new one, never a half-written file that a later
run would trust. Files and folders get the permissions the user's umask gives a plain
``open``/``mkdir`` (0644 and 0755 under umask 022), not the private ones of ``tempfile``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from videoadviser.errors import ConfigError, DataError, VideoAdviserError
from videoadviser.utils.ownership import check_replaceable, refuse_link, write_manifest

FILE_LINK_ADVICE = "give another path, or move the link away"  # a link where a file goes


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing; the content appears there only if the block succeeds.
    A symbolic link at ``path`` is a user's and is never replaced (:func:`refuse_link`)."""
    target = Path(path)
    refuse_link(target, advice=FILE_LINK_ADVICE)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes 0600: give what the umask says
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
    renamed to ``path`` only if the block succeeds (never over a link: :func:`refuse_link`)."""
    target = Path(path)
    refuse_link(target, advice=FILE_LINK_ADVICE)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())  # after the library wrote it: it may have made it anew
        os.replace(tmp, target)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it
    (``/proc/self/status``); elsewhere set and put back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new file, as ``open`` would make it: ``0o666`` less the umask."""
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    """Mode of a new folder, as ``mkdir`` would make it: ``0o777`` less the umask."""
    return 0o777 & ~current_umask()


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
    os.chmod(staging, folder_mode())  # mkdtemp makes 0700: give what the umask says
    try:
        yield staging
        _umask_modes(staging)  # libraries such as safetensors make their files 0600
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


def _umask_modes(folder: Path) -> None:
    """Give every file and folder under ``folder`` the mode the umask gives (0644 / 0755 under
    umask 022), whatever mode the library that wrote it chose."""
    files, folders = file_mode(), folder_mode()
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            if not os.path.islink(os.path.join(root, name)):  # (chmod would follow it)
                os.chmod(os.path.join(root, name), folders)
        for name in names:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, files)


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
    """Read a JSON file (data only: JSON cannot execute code).

    Raises:
        DataError: the file is not UTF-8, or not JSON (damaged or cut short), naming the line.
    """
    try:
        return json.loads(read_user_text(path))
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path}:{error.lineno}: not valid JSON ({error.msg} at column {error.colno}); "
            "the file is damaged or was cut short"
        ) from None


def read_user_text(path: str | os.PathLike[str], error: type[VideoAdviserError] = DataError) -> str:
    """The text of a file a user gives (a recipe, label.csv, a text or CSV to score): the one
    place that decides encodings.

    UTF-8, with or without a byte-order mark, or UTF-16 with one. Line endings are kept as
    they are (a CSV reader needs them): read CSV text with ``io.StringIO(text, newline="")``.

    Raises:
        ``error`` (DataError unless told, e.g. ConfigError for a recipe): the file is not
        UTF-8, naming its line and byte and how to convert it.
    """
    raw = Path(path).read_bytes()
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as failure:
            raise error(
                f"{path}: not valid UTF-16 text (byte {failure.start}, after its byte-order "
                "mark); save the file as UTF-8"
            ) from None
    bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as failure:
        start = bom + failure.start
        line = raw[:start].count(b"\n") + 1
        line_start = max(raw.rfind(b"\n", 0, start) + 1, bom)
        column = len(raw[line_start:start].decode("utf-8")) + 1  # in characters, as an editor
        raise error(
            f"{path}:{line}: not UTF-8 text (byte {start} is {raw[start : start + 1]!r}, "
            f"column {column} of that line); save the file as UTF-8, e.g. for a Latin-1 file "
            f"`iconv -f latin1 -t utf-8 {path} > {beside(path, '-utf8')}`"
        ) from None


def beside(path: str | os.PathLike[str], tag: str) -> Path:
    """``path`` with ``tag`` after its stem, for a fixed copy a message suggests:
    ``a/b.csv`` -> ``a/b-utf8.csv``."""
    path = Path(path)
    return path.with_name(f"{path.stem}{tag}{path.suffix}")


def check_output_file(
    path: str | os.PathLike[str],
    option: str | None = None,
    *,
    kind: str = "",
    is_kind: Callable[[Path], bool] | None = None,
    other_kind: Callable[[Path], str | None] | None = None,
    overwrite: bool = False,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> Path:
    """Check, before any work, that writing the file ``path`` loses nothing of a user's and
    can be done: the one rule for a command's file output. Nothing is created.

    ``path`` must not be a folder, a symbolic link (the tool makes none) or one of the
    command's ``inputs`` (option -> path: never, whatever the flags), and must lie under a
    folder that exists (or can be made) and is writable. An existing file is replaced only
    with ``overwrite`` and only when ``is_kind`` recognises it as the command's own ``kind``
    of file (words for messages, e.g. "a teacher predictions CSV"; :func:`csv_header` reads
    its header row exactly as the command writes it); without ``is_kind`` no existing file is.
    ``other_kind`` may tell, in words, what else of the command's own an existing file that
    ``is_kind`` refuses is (e.g. "a predictions CSV for other columns"), for the message. A
    message never suggests ``--overwrite`` for a file it would not replace.

    Raises:
        ConfigError: naming ``option`` (the command-line option that gave ``path``; ``None``
            for a file the command names itself, e.g. inside its output folder), the path and
            what to give instead.
    """
    target = Path(path)
    named = f"{option} {target}" if option else str(target)
    for name, given in (inputs or {}).items():
        if given is not None and _same_file(target, Path(given)):
            raise ConfigError(
                f"{named}: is also the input {name}; writing there would replace "
                "what the command reads: give another path"
            )
    refuse_link(target, option, FILE_LINK_ADVICE)
    if target.is_dir():
        raise ConfigError(
            f"{named}: is a folder; give a file path, e.g. {target / 'predictions.csv'}"
        )
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{named}: {parent} is a file, not a folder; give another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{named}: the folder {parent} is not writable; give a path in a folder "
            "you can write to"
        )
    if target.exists():
        _check_replaceable_file(target, named, kind, is_kind, other_kind, overwrite)
    return target


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same existing file (links and ``..`` resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one is absent: an input that is not there is not overwritten
        return False


def _check_replaceable_file(
    target: Path,
    named: str,
    kind: str,
    is_kind: Callable[[Path], bool] | None,
    other_kind: Callable[[Path], str | None] | None,
    overwrite: bool,
) -> None:
    """Refuse to replace the existing ``target`` (``named`` in messages) unless ``overwrite``
    and it is the command's own ``kind`` of file (:func:`check_output_file`)."""
    if not (target.is_file() and is_kind is not None and is_kind(target)):
        other = other_kind(target) if other_kind is not None and target.is_file() else None
        if other:
            raise ConfigError(
                f"{named}: holds {other} that videoadviser wrote, not {kind}, so this command "
                "does not replace it: give another path, or move that file away first"
            )
        told = f" (not {kind})" if is_kind else ""
        raise ConfigError(
            f"{named}: exists and is not a file videoadviser wrote{told}, so nothing "
            "replaces it: give another path, or move that file away first"
        )
    if not overwrite:
        raise ConfigError(
            f"{named}: holds {kind} that videoadviser wrote earlier; pass "
            "--overwrite to replace it, or give another path"
        )


def csv_header(path: str | os.PathLike[str]) -> list[str] | None:
    """The header row of a CSV file exactly as :func:`write_csv` writes one (UTF-8 without a
    byte-order mark, ``\n`` ending, the csv module's quoting); ``None`` for any other first
    line (another tool's or a user's file) or an unreadable file."""
    try:
        with open(path, "rb") as handle:
            line = handle.readline(_HEADER_LIMIT)
        text = line.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.endswith("\n") or text.startswith("\ufeff"):
        return None
    fields = next(csv.reader([text[:-1]]), [])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return fields if fields and buffer.getvalue() == text else None


_HEADER_LIMIT = 1 << 20  # bytes of a first line read to recognise a CSV header


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
