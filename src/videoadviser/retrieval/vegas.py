"""VEGAS data: the packed ``vegas_feature.h5``, per-video uint8 features, and the 5 folds.

Two layouts are read:

- **Packed** (``vegas_feature.h5``, the public release): datasets ``audio_train`` (N, 128),
  ``visual_train`` (N, 1024), ``lab_train`` (N,), and the same three ``*_test``; features are
  already averaged over time (float). Labels are class indices ``0..K-1`` (an ``(N, 1)`` column
  or one-hot ``(N, K)`` rows are accepted too). Optional ``clip_id_train`` / ``clip_id_test``
  (strings) name the clips; without them a clip is called ``train/<row>`` or ``test/<row>``.
  Optional attribute ``class_names`` on the file.
- **Per video** (a folder): ``labels.csv`` with ``clip_id,label`` and, for each clip,
  ``audio/<clip_id>.npy`` (Ta, Da) and ``visual/<clip_id>.npy`` (Tv, Dv), uint8 per-second
  features, converted with ``(x - 128) / 256`` and averaged over time (:func:`pool_uint8`).
  ``.npy`` files are read with ``allow_pickle=False``: nothing in them can run code.

Evaluation (Zeng et al.) uses a class-balanced 5-fold split of all clips (:func:`balanced_folds`)
or folds the user supplies (:func:`read_folds`, a CSV ``clip_id,fold``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videoadviser.data.records import is_plain_name
from videoadviser.errors import DataError
from videoadviser.utils.io import atomic_path, read_user_text

PACKED_KEYS = ("audio_train", "visual_train", "lab_train", "audio_test", "visual_test", "lab_test")


@dataclass
class RetrievalSet:
    """Clip-level features of an audio-visual retrieval dataset.

    ``audio`` (N, Da) and ``visual`` (N, Dv) float32, ``labels`` (N,) int64 in [0, K),
    ``clip_ids`` N unique names, ``class_names`` K names.
    """

    audio: np.ndarray
    visual: np.ndarray
    labels: np.ndarray
    clip_ids: list[str]
    class_names: list[str]
    source: str = ""
    packed_split: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U5"))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.labels)

    def summary(self) -> dict[str, object]:
        return {
            "source": self.source,
            "clips": len(self),
            "classes": self.class_names,
            "audio_dim": int(self.audio.shape[1]),
            "visual_dim": int(self.visual.shape[1]),
            "clips_per_class": np.bincount(self.labels, minlength=self.num_classes).tolist(),
        }


def pool_uint8(features: np.ndarray, where: str) -> np.ndarray:
    """Per-second uint8 features ``(T, D)`` -> ``(D,)`` float32: ``(x - 128) / 256``, time mean."""
    if features.dtype != np.uint8:
        raise DataError(f"{where}: expected uint8 per-second features, got dtype {features.dtype}")
    if features.ndim != 2 or features.shape[0] == 0:
        raise DataError(f"{where}: expected a (seconds, dim) array, got shape {features.shape}")
    return ((features.astype(np.float32) - 128.0) / 256.0).mean(axis=0)


def _labels(raw: np.ndarray, key: str) -> np.ndarray:
    """Class indices ``(N,)`` from ``(N,)``, ``(N, 1)`` or one-hot ``(N, K)`` label data."""
    if raw.ndim == 2 and raw.shape[1] > 1:
        if not np.isin(raw, (0, 1)).all() or not (raw.sum(1) == 1).all():
            raise DataError(f"{key}: a 2-d label array must be one-hot rows, shape {raw.shape}")
        return raw.argmax(1).astype(np.int64)
    if raw.ndim == 2:
        raw = raw[:, 0]
    if raw.ndim != 1:
        raise DataError(f"{key}: labels must be (N,), (N, 1) or one-hot (N, K), got {raw.shape}")
    if not np.issubdtype(raw.dtype, np.number) or np.issubdtype(raw.dtype, np.complexfloating):
        raise DataError(f"{key}: labels must be class indices, got dtype {raw.dtype}")
    if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
        raise DataError(f"{key}: labels must be whole class indices")
    if raw.size and raw.min() < 0:
        raise DataError(f"{key}: label {int(raw.min())} is negative; labels are 0..K-1")
    return raw.astype(np.int64)


def _features(raw: np.ndarray, key: str, rows: int | None) -> np.ndarray:
    if raw.ndim != 2 or raw.shape[0] == 0:
        raise DataError(f"{key}: expected a non-empty (clips, dim) array, got shape {raw.shape}")
    if rows is not None and raw.shape[0] != rows:
        raise DataError(f"{key}: {raw.shape[0]} rows but the labels have {rows}")
    if raw.dtype == np.uint8:
        raise DataError(
            f"{key}: uint8 features in the packed file; the packed layout holds clip-level "
            "float features (use the per-video layout for per-second uint8 arrays)"
        )
    if not np.issubdtype(raw.dtype, np.floating):
        raise DataError(f"{key}: expected float features, got dtype {raw.dtype}")
    out = raw.astype(np.float32)
    if not np.isfinite(out).all():
        bad = int(np.argwhere(~np.isfinite(out))[0, 0])
        raise DataError(f"{key}: row {bad} holds NaN or infinite values")
    return out


def read_packed(path: str | Path) -> RetrievalSet:
    """Read a packed ``vegas_feature.h5`` (train and test rows together, in that order).

    Raises:
        DataError: a missing key, a wrong shape, dtype or label range, naming the key.
    """
    import h5py  # imported here: only retrieval needs it

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a packed vegas_feature.h5)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise DataError(f"{path}: not an HDF5 file ({error})") from None
    parts: dict[str, list[np.ndarray]] = {"audio": [], "visual": [], "labels": []}
    ids: list[str] = []
    split: list[str] = []
    with handle:
        missing = [k for k in PACKED_KEYS if k not in handle]
        if missing:
            raise DataError(
                f"{path}: missing key(s) {', '.join(missing)}; a packed VEGAS file has "
                f"{', '.join(PACKED_KEYS)} (found: {', '.join(sorted(handle.keys())) or 'none'})"
            )
        dims: dict[str, int] = {}
        for part in ("train", "test"):
            labels = _labels(np.asarray(handle[f"lab_{part}"]), f"{path}:lab_{part}")
            for modality in ("audio", "visual"):
                key = f"{modality}_{part}"
                values = _features(np.asarray(handle[key]), f"{path}:{key}", len(labels))
                if dims.setdefault(modality, values.shape[1]) != values.shape[1]:
                    raise DataError(
                        f"{path}:{key}: {values.shape[1]}-d but {modality}_train is "
                        f"{dims[modality]}-d"
                    )
                parts[modality].append(values)
            parts["labels"].append(labels)
            id_key = f"clip_id_{part}"
            if id_key in handle:
                names = [_text(v) for v in np.asarray(handle[id_key]).reshape(-1)]
                if len(names) != len(labels):
                    raise DataError(f"{path}:{id_key}: {len(names)} ids for {len(labels)} rows")
            else:
                names = [f"{part}/{i}" for i in range(len(labels))]
            ids += names
            split += [part] * len(labels)
        attribute = handle.attrs.get("class_names", [])
        if isinstance(attribute, str | bytes) or np.ndim(attribute) != 1:
            raise DataError(f"{path}: attribute class_names must be a list of names")
        class_names = [_text(v) for v in attribute]
    labels = np.concatenate(parts["labels"])
    return _checked(
        RetrievalSet(
            audio=np.concatenate(parts["audio"]),
            visual=np.concatenate(parts["visual"]),
            labels=labels,
            clip_ids=ids,
            class_names=class_names,
            source=str(path),
            packed_split=np.array(split),
        ),
        f"{path}:lab_train/lab_test",
    )


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _checked(data: RetrievalSet, label_key: str) -> RetrievalSet:
    """Fill in class names; check every class 0..K-1 occurs, ids are unique and every label
    has a name."""
    k = int(data.labels.max()) + 1
    absent = sorted(set(range(k)) - set(data.labels.tolist()))
    if absent:
        raise DataError(
            f"{label_key}: labels go up to {k - 1} but class(es) {absent[:5]} never occur; "
            "labels must be 0..K-1 with every class present"
        )
    if not data.class_names:
        data.class_names = [f"class {i}" for i in range(k)]
    if k > len(data.class_names):
        raise DataError(
            f"{label_key}: label {k - 1} but only {len(data.class_names)} class names; labels "
            "must be 0..K-1"
        )
    if len(set(data.clip_ids)) != len(data.clip_ids):
        seen: set[str] = set()
        twice = next(c for c in data.clip_ids if c in seen or seen.add(c))  # type: ignore[func-returns-value]
        raise DataError(f"{data.source}: clip id {twice!r} appears twice")
    return data


def _read_table(path: Path, columns: tuple[str, ...], what: str) -> list[dict[str, str]]:
    """The rows of a CSV that must exist, have ``columns`` and at least one row."""
    if not path.is_file():
        raise DataError(f"{path}: not found ({what}, a CSV with columns {','.join(columns)})")
    rows = list(csv.DictReader(io.StringIO(read_user_text(path), newline="")))
    if not rows or not set(columns) <= set(rows[0]):
        raise DataError(f"{path}: needs the columns {','.join(columns)} and at least one row")
    return rows


def read_per_video(folder: str | Path, class_names: list[str] | None = None) -> RetrievalSet:
    """Read the per-video layout (``labels.csv`` + ``audio/`` + ``visual/`` uint8 ``.npy``)."""
    folder = Path(folder)
    table = folder / "labels.csv"
    rows = _read_table(table, ("clip_id", "label"), "the per-video layout's labels.csv")
    audio, visual, labels, ids = [], [], [], []
    names: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        if None in row.values() or None in row:
            raise DataError(f"{table}, row {line}: wrong number of fields")
        clip = row["clip_id"].strip()
        if not clip or clip.startswith(".") or not is_plain_name(clip):
            raise DataError(f"{table}, row {line}: clip_id {clip!r} is not a plain file name")
        try:
            label = int(row["label"])
        except ValueError:
            raise DataError(
                f"{table}, row {line}: label {row['label']!r} is not a class index"
            ) from None
        if label < 0:
            raise DataError(f"{table}, row {line}: label {label} is negative; labels are 0..K-1")
        if row.get("class_name"):
            if names.setdefault(label, row["class_name"]) != row["class_name"]:
                raise DataError(
                    f"{table}, row {line}: class_name {row['class_name']!r} for label {label}, "
                    f"which an earlier row calls {names[label]!r}"
                )
        labels.append(label)
        for modality, out in (("audio", audio), ("visual", visual)):
            path = folder / modality / f"{clip}.npy"
            if not path.is_file():
                raise DataError(f"{path}: missing (row {line} of {table})")
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, OSError, EOFError) as error:
                raise DataError(f"{path}: not a plain .npy array ({error})") from None
            if not isinstance(array, np.ndarray):
                raise DataError(f"{path}: not a plain .npy array (an .npz archive?)")
            out.append(pool_uint8(array, str(path)))
        ids.append(clip)
    if names and class_names is None:
        if set(names) != set(range(max(names) + 1)):
            raise DataError(f"{table}: class_name is missing for some labels")
        class_names = [names[i] for i in range(max(names) + 1)]
    for name, values in (("audio", audio), ("visual", visual)):
        dims = {v.shape[0] for v in values}
        if len(dims) > 1:
            raise DataError(f"{folder / name}: clips have different feature sizes {sorted(dims)}")
    label_array = _labels(np.array(labels), f"{table}:label")
    return _checked(
        RetrievalSet(
            audio=np.stack(audio),
            visual=np.stack(visual),
            labels=label_array,
            clip_ids=ids,
            class_names=list(class_names or []),
            source=str(folder),
            packed_split=np.array(["train"] * len(ids)),
        ),
        f"{table}:label",
    )


def read_retrieval_set(path: str | Path) -> RetrievalSet:
    """A packed ``.h5`` file or a per-video folder, whichever ``path`` is."""
    path = Path(path)
    return read_per_video(path) if path.is_dir() else read_packed(path)


def write_packed(path: str | Path, data: RetrievalSet) -> None:
    """Write ``data`` in the packed layout (train = ``packed_split == "train"``), atomically."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        for part in ("train", "test"):
            rows = np.flatnonzero(data.packed_split == part)
            h5.create_dataset(f"audio_{part}", data=data.audio[rows])
            h5.create_dataset(f"visual_{part}", data=data.visual[rows])
            h5.create_dataset(f"lab_{part}", data=data.labels[rows])
            h5.create_dataset(
                f"clip_id_{part}", data=np.array([data.clip_ids[i] for i in rows], dtype="S")
            )
        h5.attrs["class_names"] = np.array(data.class_names, dtype="S")


def balanced_folds(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A class-balanced k-fold split: ``(N,)`` fold index per clip, deterministic in ``seed``.

    Each class's clips are shuffled and dealt round-robin, starting where the previous class
    stopped, so every fold holds ``floor`` or ``ceil`` of ``n_c / k`` clips of each class c and
    fold sizes differ by at most one.
    """
    if k < 2:
        raise ValueError("k-fold needs k >= 2")
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < k:
        smallest = int(counts.argmin())
        raise DataError(
            f"class {int(classes[smallest])} has {counts[smallest]} clips, fewer than the {k} "
            "folds (data.folds): each class-balanced fold takes at least one clip of each "
            f"class; give data.folds at most {counts[smallest]}, or a data.folds_file"
        )
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in classes:
        members = rng.permutation(np.flatnonzero(labels == c))
        folds[members] = (offset + np.arange(len(members))) % k
        offset = (offset + len(members)) % k
    return folds


def read_folds(path: str | Path, clip_ids: list[str]) -> np.ndarray:
    """Folds a user supplies, a CSV ``clip_id,fold`` covering every clip: ``(N,)`` indices."""
    path = Path(path)
    rows = _read_table(path, ("clip_id", "fold"), "a fold file")
    given: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        try:
            given[row["clip_id"]] = int(row["fold"])
        except ValueError:
            raise DataError(f"{path}, row {line}: fold {row['fold']!r} is not an integer") from None
    missing = [c for c in clip_ids if c not in given]
    if missing:
        raise DataError(f"{path}: no fold for {len(missing)} clip(s), e.g. {missing[0]!r}")
    folds = np.array([given[c] for c in clip_ids], dtype=np.int64)
    if folds.min() < 0 or len(np.unique(folds)) < 2 or len(np.unique(folds)) != folds.max() + 1:
        raise DataError(f"{path}: folds must be 0..k-1, each used, with k >= 2")
    return folds


def holdout(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A class-balanced share of ``indices`` held out for validation: a boolean mask over them."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(indices), dtype=bool)
    for c in np.unique(labels[indices]):
        members = rng.permutation(np.flatnonzero(labels[indices] == c))
        mask[members[: max(1, int(round(fraction * len(members))))]] = True
    return mask
