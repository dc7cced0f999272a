"""Reader for MMSA processed pickles (``unaligned_50.pkl``, ``aligned_50.pkl``).

A pickle can run arbitrary code when loaded, so it is read with :class:`RestrictedUnpickler`:
only numpy arrays and scalars (and the few numpy internals needed to rebuild them), lists,
dicts, tuples, strings, bytes and numbers can be built. Any other global is refused *before* it
is looked up, with an :class:`~videoadviser.errors.UnsafePickleError` naming it; nothing from
the file is executed.

Layout: ``{"train" | "valid" | "test": {"id": ["<video_id>$_$<clip_id>", ...],
"raw_text": [...], "regression_labels": [...], <feature arrays>...}}``. Only ids, transcripts and
labels are used: ``text_bert`` holds BERT ids, and a student with another tokenizer re-tokenises
``raw_text``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.data.mmsa_raw import raw_video_path
from videoadviser.data.records import (
    ID_SEPARATOR,
    SPLITS,
    ClipRecord,
    check_unique_ids,
    join_problems,
    parse_label,
)
from videoadviser.errors import DataError, UnsafePickleError

# (module, name) pairs a numpy array/scalar pickle needs, under numpy 1.x and 2.x module names.
_NUMPY_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
# Protocol-2 pickles spell bytes as _codecs.encode(str, "latin1"): a pure string function.
_OTHER_GLOBALS = {("_codecs", "encode")}
ALLOWED_GLOBALS = frozenset(_NUMPY_GLOBALS | _OTHER_GLOBALS)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only data: numpy arrays, containers, strings and numbers."""

    def __init__(self, file: Any, source: str = "<pickle>") -> None:
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self._source}: refusing to load global {module}.{name}; this reader admits "
                "only numpy arrays, lists, dicts, strings and numbers. If the file is yours, "
                "re-save it with plain numpy arrays; if not, do not trust it."
            )
        if module.startswith("numpy.core."):  # numpy 1.x's name for the same numpy 2 module
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._source}: persistent ids are not allowed in data pickles")


def safe_load_pickle(path: str | Path) -> Any:
    """Load a pickle with :class:`RestrictedUnpickler`; raise :class:`DataError` if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such pickle file")
    with open(path, "rb") as handle:
        try:
            return RestrictedUnpickler(handle, source=str(path)).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # truncated or not a pickle at all
            raise DataError(
                f"{path}: not a readable pickle ({type(error).__name__}: {error})"
            ) from None


def read_processed_pickle(path: str | Path, raw_root: str | Path | None = None) -> list[ClipRecord]:
    """Read an MMSA processed pickle into clip records (train, then valid, then test).

    Args:
        path: the ``.pkl`` file.
        raw_root: an MMSA raw-layout folder; each record's video is looked up there by its
            ``video_id$_$clip_id`` key. Without it, records carry no video path.

    Raises:
        UnsafePickleError: the pickle names a global outside the allow-list.
        DataError: missing splits or keys, unequal lengths, bad labels, malformed or duplicate ids.
    """
    path = Path(path)
    data = safe_load_pickle(path)
    if not isinstance(data, Mapping):
        raise DataError(f"{path}: expected a dict with train/valid/test, got {type(data).__name__}")
    missing_splits = [s for s in SPLITS if s not in data]
    if missing_splits:
        raise DataError(f"{path}: missing split(s) {', '.join(missing_splits)}")

    records: list[ClipRecord] = []
    wheres: list[str] = []
    problems: list[str] = []
    for split in SPLITS:
        part = data[split]
        if not isinstance(part, Mapping):
            raise DataError(f"{path}: [{split!r}] is a {type(part).__name__}, expected a dict")
        for key in ("id", "raw_text", "regression_labels"):
            if key not in part:
                raise DataError(f"{path}: [{split!r}] has no {key!r} entry")
        ids = _as_list(part["id"])
        texts = _as_list(part["raw_text"])
        labels = np.asarray(part["regression_labels"]).reshape(-1).tolist()
        if not len(ids) == len(texts) == len(labels):
            raise DataError(
                f"{path}: [{split!r}] id/raw_text/regression_labels lengths differ "
                f"({len(ids)}/{len(texts)}/{len(labels)})"
            )
        for index, (uid, text, label) in enumerate(zip(ids, texts, labels, strict=True)):
            where = f"{path}: [{split!r}] row {index} (id {uid!r})"
            try:
                records.append(_make_record(uid, text, label, split, where, raw_root))
                wheres.append(where)
            except DataError as error:
                problems.append(str(error))
    if problems:
        raise DataError(join_problems(f"bad rows in {path}", problems))
    check_unique_ids(records, wheres)
    return records


def _as_list(values: Any) -> list[Any]:
    return np.asarray(values, dtype=object).reshape(-1).tolist()


def _make_record(
    uid: Any, text: Any, label: Any, split: str, where: str, raw_root: str | Path | None
) -> ClipRecord:
    uid = uid.decode() if isinstance(uid, bytes) else str(uid)
    if uid.count(ID_SEPARATOR) != 1:
        raise DataError(f"{where}: id must look like '<video_id>{ID_SEPARATOR}<clip_id>'")
    video_id, clip_id = uid.split(ID_SEPARATOR)
    text = (text.decode() if isinstance(text, bytes) else str(text)).strip()
    if not text:
        raise DataError(f"{where}: empty raw_text")
    value = parse_label(label, where, column="regression_label")
    video_path = (
        str(raw_video_path(raw_root, video_id, clip_id, where)) if raw_root is not None else None
    )
    return ClipRecord(video_id, clip_id, text, value, split, video_path=video_path)
