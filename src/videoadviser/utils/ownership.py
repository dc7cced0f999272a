"""Which folders a command may write into, replace or delete in: one rule for every command.

A command replaces or deletes only what videoadviser itself made, recognised by a marker it
wrote, and only when the marker says the folder is the same kind of thing:

- A *product*, a folder written whole (a checkpoint, an export, an embedded dataset or pool,
  the VEGAS-like set), holds :data:`MANIFEST`: its kind and every file it was made with
  (:func:`write_manifest`, called by :func:`~videoadviser.utils.io.staged_folder`). It is
  replaced only by a product of the same kind, and only while it holds nothing else; a folder
  inside it with a manifest of its own (a dataset's unlabelled pool) is judged by that one. A
  product an older version wrote, without a manifest, counts as the tool's only by a marker no
  other tool writes (:func:`_legacy_kind`), never by a bare ``config.json`` or ``model.onnx``.
- A *stage* folder (a teacher, a student) is marked by its ``stage.json``
  (:mod:`videoadviser.utils.stage`) and holds only the entries of :data:`STAGE_LAYOUT`;
  without its ``stage.json`` its kind is told by the products in it.
- A *run* folder is marked by its ``recipe.json`` (:func:`run_kind` tells a ``videoadviser
  run`` from a ``videoadviser retrieval run``). A run only adds and rewrites its own named
  files there, so other files beside them are left alone (benchmarks add theirs).

A symbolic link is never the tool's (it makes none): wherever it stands in a product or a stage
it is a user's entry, named as foreign and never deleted or followed into, and a product's own
place that is a link is refused rather than replaced. A message about a folder of another kind
says what the folder is (:func:`what_is`).

Anything else is a user's: a command that would replace or delete it stops before any work,
with a :class:`~videoadviser.errors.ConfigError` naming the files, and no option changes that
(``--overwrite`` replaces the tool's own products only). An absent or empty folder is free. A
file where a folder is expected is refused up front.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Union

from videoadviser.errors import ConfigError, DataError

MANIFEST = "videoadviser_files.json"  # in every product: {"kind": ..., "files": [...]}
STAGE_MARKER = "stage.json"  # a stage folder's stamp (:mod:`videoadviser.utils.stage`)
RUN_MARKER = "recipe.json"  # a run folder's: the recipe it was run with
RUN_FOLDER = "run folder"  # of `videoadviser run`
RETRIEVAL_RUN_FOLDER = "retrieval run folder"  # of `videoadviser retrieval run`
_RUN_COMMANDS = {RUN_FOLDER: "videoadviser run", RETRIEVAL_RUN_FOLDER: "videoadviser retrieval run"}
ANY = "any"  # a layout entry the tool writes whose content is not looked into (a CSV, logs)
PRODUCT = "product"  # a layout entry that is a product, judged by its own manifest
Layout = Mapping[str, Union[str, "Layout"]]

# what a stage folder holds: its stamp, results and logs; checkpoints and exports (products);
# the out-of-fold teachers' folders (stages of their own)
STAGE_LAYOUT: dict[str, Any] = {
    STAGE_MARKER: ANY,
    "metrics.json": ANY,
    "history.csv": ANY,
    "predictions.csv": ANY,
    "transfer_inputs.json": ANY,  # what each transfer clip's r_T was predicted from
    "queries.csv": ANY,
    "teacher_outputs.h5": ANY,
    "tensorboard": ANY,
    "best": PRODUCT,
    "last": PRODUCT,
    "model": PRODUCT,
    "onnx*": PRODUCT,
}
STAGE_LAYOUT["fold_*"] = STAGE_LAYOUT
# the kinds of product (a manifest's "kind")
TEACHER_CHECKPOINT = "teacher checkpoint"  # a teacher's best/ and last/
STUDENT_MODEL = "student model"  # a student's best/
STUDENT_RESUME_POINT = "student resume point"  # a student's last/
ONNX_EXPORT = "ONNX export"
EMBEDDED_DATASET = "embedded dataset"
UNLABELLED_POOL = "unlabelled pool"
VEGAS_SET = "embedded VEGAS-like set"
RETRIEVAL_CHECKPOINT = "retrieval checkpoint"
CLIP_CHECKPOINT = "random CLIP checkpoint"
# products written before manifests existed, told only by a marker of videoadviser's own
# (:func:`_legacy_kind`): the files (glob patterns) each may then hold for it to count as the
# tool's. A bare config.json, model.onnx or vegas_feature.h5 is no marker: any Hugging Face
# checkpoint, ONNX export or VEGAS download has one.
_CHECKPOINT = ("config.json", "*.safetensors", "trainer_state.json", "videoadviser_student.json",
               "generation_config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json",
               "merges.txt", "spiece.model", "sentencepiece.bpe.model")  # fmt: skip
_CHECKPOINT_WITH_TEXT = (*_CHECKPOINT, *(f"transcript_encoder/{p}" for p in _CHECKPOINT))
_DEMO = ("demo.json", "label.csv", "latents.csv", "Raw/*/*.mp4")
LEGACY_PRODUCTS: dict[str, tuple[str, ...]] = {
    ONNX_EXPORT: ("model.onnx", *_CHECKPOINT),
    STUDENT_MODEL: _CHECKPOINT,
    TEACHER_CHECKPOINT: _CHECKPOINT_WITH_TEXT,
    STUDENT_RESUME_POINT: _CHECKPOINT_WITH_TEXT,
    EMBEDDED_DATASET: (*_DEMO, *(f"unlabelled/{p}" for p in _DEMO)),  # with its pool
    UNLABELLED_POOL: _DEMO,
}
STUDENT_METADATA = "videoadviser_student.json"  # a student's (and its ONNX export's) metadata
STUDENT_KIND = "videoadviser-student"  # its "kind"; an export's copy adds an "onnx" section
DEMO_MANIFEST = "demo.json"  # an embedded dataset's (or pool's) settings: {"config": {...}}
# keys every embedded dataset's demo.json "config" has had (DemoConfig fields since the first)
DEMO_CONFIG_KEYS = frozenset({"seed", "n_train", "n_valid", "n_test", "share_negative"})
# a checkpoint's config.json "kind" -> its product kind
_CONFIG_KINDS = {
    "videoadviser-teacher": TEACHER_CHECKPOINT,
    "videoadviser-student-resume": STUDENT_RESUME_POINT,
}
SHOWN = 5  # foreign files named in a message; the rest are counted


def check_folder_path(path: Path, what: str | None = None) -> None:
    """Refuse ``path`` up front when it exists and is not a folder. The message names
    ``what`` the user gave it as (an option such as ``--out``; none: the path alone)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"{_named(path, what)}: is a file, not a folder; give the path of a new or empty "
            "folder (or of one videoadviser made)"
        )


def _named(path: Path, what: str | None) -> str:
    """``path`` as the user gave it: after its option (``--out PATH``), or alone."""
    return f"{what} {path}" if what else str(path)


def is_free(path: Path, what: str | None = None) -> bool:
    """Whether ``path`` is absent or an empty folder: any command may use it (a file there is
    refused, naming ``what``: :func:`check_folder_path`)."""
    check_folder_path(path, what)
    return not path.exists() or not any(path.iterdir())


def _files(folder: Path) -> Iterator[str]:
    """Every file under ``folder``, and every symbolic link (never followed), as a path
    relative to it (``/``-separated), sorted."""
    for root, dirs, names in os.walk(folder):  # (it does not go into linked folders)
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs if d not in links)
        for name in sorted(names + links):
            yield (Path(root) / name).relative_to(folder).as_posix()


def write_manifest(folder: Path, kind: str, **details: Any) -> None:
    """Mark ``folder`` as a product of ``kind`` made of the files it holds now."""
    files = [f for f in _files(folder) if f != MANIFEST]
    manifest = {"kind": kind, **details, "files": files}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def read_manifest(folder: Path) -> dict[str, Any]:
    """A product's manifest; empty when ``folder`` has none (or it cannot be read)."""
    return _json(folder / MANIFEST)


def product_kind(folder: Path) -> str | None:
    """What product ``folder`` is: its manifest's kind, else what its older marker tells
    (:data:`LEGACY_PRODUCTS`); ``None`` when neither tells, or it is not a folder."""
    if not folder.is_dir():
        return None
    return read_manifest(folder).get("kind") or _legacy_kind(folder)


def missing_files(folder: Path) -> list[str]:
    """Files a product's manifest lists that ``folder`` no longer holds (deleted since it was
    made), relative to it; none are known of a product without a manifest."""
    listed = read_manifest(folder).get("files")
    listed = listed if isinstance(listed, list) else []
    return [f for f in listed if isinstance(f, str) and not (folder / f).is_file()]


def check_complete(folder: Path, remake: str) -> None:
    """Refuse to use a product of the tool's that lost files it was made with (deleted since):
    the message names them and ``remake``, the command that makes it again."""
    missing = missing_files(folder)
    if missing:
        raise DataError(
            f"{folder}: incomplete: it lacks {describe(missing, folder)}, which videoadviser "
            f"made it with (deleted since?). Make it again with `{remake}` (that replaces only "
            "what videoadviser wrote there)"
        )


def foreign_files(folder: Path, layout: Layout | None = None) -> list[str]:
    """Files under ``folder`` that videoadviser did not write there, relative to ``folder``.

    ``layout`` ``None``: ``folder`` is a product, and what its manifest does not list is
    foreign (without a manifest: what its older marker does not account for,
    :data:`LEGACY_PRODUCTS`). Else ``folder`` is written in place and holds the
    entries ``layout`` names (glob patterns: :data:`ANY`, :data:`PRODUCT` or a nested layout),
    and the leftovers of writing them atomically (``.<name>.*``).
    """
    if not folder.is_dir():
        return []
    if layout is None:
        manifest = read_manifest(folder)
        if not manifest:
            return _legacy_foreign(folder)
        listed = set(manifest.get("files", [])) | {MANIFEST}
        return list(_unlisted(folder, folder, listed))
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():  # the tool makes none: a user's, whatever its name
            out.append(entry.name)
            continue
        rule = _rule(entry.name, layout)
        if rule == ANY:
            continue
        if rule is None or (rule == PRODUCT and not entry.is_dir()):
            inner = [f"{entry.name}/{f}" for f in _files(entry)] if entry.is_dir() else []
            out.extend(inner or [entry.name + ("/" if entry.is_dir() else "")])
        else:
            nested = None if rule == PRODUCT else rule
            out.extend(f"{entry.name}/{f}" for f in foreign_files(entry, nested))  # type: ignore[arg-type]
    return out


def _legacy_foreign(folder: Path) -> list[str]:
    """Files of a product without a manifest (an older version wrote it) that its kind's
    files (:data:`LEGACY_PRODUCTS`) do not account for; all of them without a marker."""
    patterns = LEGACY_PRODUCTS.get(_legacy_kind(folder) or "", ())
    nested = list(_unlisted(folder, folder, set()))  # nested products judged by their own
    return [
        f
        for f in nested
        if (folder / f).is_symlink() or not any(fnmatch.fnmatchcase(f, p) for p in patterns)
    ]


def _legacy_kind(folder: Path) -> str | None:
    """What a product without a manifest is, told by a marker only videoadviser writes
    (``None``: not told: it is a user's): a ``videoadviser_student.json`` (an ONNX export's has
    an ``onnx`` section), a ``config.json`` whose ``kind`` is the tool's, a ``demo.json`` with
    an embedded dataset's settings."""
    student = _json(folder / STUDENT_METADATA)
    if "onnx" in student:
        return ONNX_EXPORT
    if student.get("kind") == STUDENT_KIND:
        return STUDENT_MODEL
    demo = _json(folder / DEMO_MANIFEST)
    config = demo.get("config")
    if isinstance(config, dict) and DEMO_CONFIG_KEYS <= set(config):
        return UNLABELLED_POOL if "unlabelled" in demo else EMBEDDED_DATASET
    return _CONFIG_KINDS.get(str(_json(folder / "config.json").get("kind")))


def _json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; empty when it is missing, unreadable or not an object."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _unlisted(folder: Path, here: Path, listed: set[str]) -> Iterator[str]:
    """Files under ``here`` not in ``listed`` (paths relative to the product ``folder``); a
    folder with a manifest of its own is judged by it; a symbolic link is an entry of its own
    (never followed)."""
    for entry in sorted(here.iterdir()):
        name = entry.relative_to(folder).as_posix()
        if entry.is_symlink():
            if name not in listed:
                yield name
        elif entry.is_dir() and (entry / MANIFEST).is_file():
            yield from (f"{name}/{f}" for f in foreign_files(entry))
        elif entry.is_dir():
            yield from _unlisted(folder, entry, listed)
        elif name not in listed:
            yield name


def _rule(name: str, layout: Layout) -> str | Layout | None:
    """The layout entry ``name`` matches (``None``: none: it is foreign)."""
    for pattern, rule in layout.items():
        if fnmatch.fnmatchcase(name, pattern):
            return rule
        if fnmatch.fnmatchcase(name, f".{pattern}.*"):  # a staging folder or temporary file
            return ANY
    return None


def describe(paths: list[str], folder: Path) -> str:
    """A few of ``paths`` (under ``folder``), then how many more."""
    shown = ", ".join(str(folder / p) for p in paths[:SHOWN])
    return shown + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")


def refuse_foreign(folder: Path, foreign: list[str], what: str = "--out") -> None:
    """Stop when ``folder`` holds ``foreign`` files: the message names them and what to do."""
    if foreign:
        raise ConfigError(
            f"{folder} holds files videoadviser did not write: {describe(foreign, folder)}. "
            f"No command deletes or replaces them: move them out of {folder}, or choose "
            f"another {what} (a new or empty folder)"
        )


def refuse_link(
    path: Path, what: str | None = None, advice: str = "give a new or empty folder instead"
) -> None:
    """Refuse a ``path`` that is a symbolic link where the tool writes (a product, a stage, a
    file): videoadviser makes none, so the link is the user's, and what it points to is never
    written through, cleared or replaced. The message names ``what`` the user gave it as, then
    ``advice``."""
    if path.is_symlink():
        raise ConfigError(
            f"{_named(path, what)}: is a symbolic link (to {os.readlink(path)}), and "
            f"videoadviser never replaces a link or writes through one: {advice}"
        )


def check_replaceable(folder: Path, kind: str, what: str | None = None) -> None:
    """Refuse to replace ``folder`` by a product of ``kind`` unless it is free or a product
    of that kind holding nothing but its own files; never a symbolic link (the user's). The
    messages name ``what`` the user gave the folder as (e.g. ``--out``)."""
    refuse_link(folder, what)
    if is_free(folder, what):
        return
    if product_kind(folder) != kind:
        advice = f"it is left as it is: choose another {what or 'folder'} (a new or empty one)"
        _refuse_other_kind(folder, kind, advice)
        # no marker of the tool's: the user's, whatever files it holds
        foreign = foreign_files(folder)
        held = foreign or sorted(p.name for p in folder.iterdir())
        said = "files videoadviser did not write" if foreign else "what videoadviser made apart"
        raise ConfigError(
            f"{_named(folder, what)}: not {_a(kind)} videoadviser made (it has no {MANIFEST}), "
            f"and it holds {said}: {describe(held, folder)}. No command deletes or replaces "
            f"them: move them out of {folder}, or choose another {what or 'folder'} (a new or "
            "empty one)"
        )
    refuse_foreign(folder, foreign_files(folder), what or "folder")


def what_is(folder: Path) -> str | None:
    """What videoadviser made ``folder`` as, told by its marker, as words to follow its path:
    ``holds a teacher checkpoint`` (a product), ``is a teacher stage folder``, ``is the folder
    of a `videoadviser run```; ``None`` when it has no marker of the tool's (it is a user's)."""
    made = product_kind(folder)
    if made:
        return f"holds {_a(str(made))}"
    stage = _json(folder / STAGE_MARKER).get("kind")
    if isinstance(stage, str) and stage:
        return f"is {_a(stage)} stage folder"
    run = run_kind(_json(folder / RUN_MARKER))
    if run is not None:
        return f"is the folder of a `{_RUN_COMMANDS[run]}`"
    return None


def _refuse_other_kind(folder: Path, kind: str, advice: str, what: str | None = None) -> None:
    """Stop when ``folder`` is something videoadviser made other than ``kind``, saying what it
    is and ``advice``; a folder without the tool's marker passes (its files are judged next)."""
    made = what_is(folder)
    if made is not None:
        raise ConfigError(f"{_named(folder, what)} {made}, not {_a(kind)}; {advice}")


def run_kind(recipe: Any) -> str | None:
    """Which run folder a ``recipe.json`` content marks: :data:`RUN_FOLDER` or
    :data:`RETRIEVAL_RUN_FOLDER` (``None``: neither, e.g. ``{}`` for a missing one)."""
    if not isinstance(recipe, dict):
        return None
    if {"model", "distill", "data"} <= set(recipe):
        return RETRIEVAL_RUN_FOLDER
    if {"teacher", "student", "data"} <= set(recipe):
        return RUN_FOLDER
    return None


def _a(noun: str) -> str:
    """``noun`` with its indefinite article."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def claim_folder(
    folder: Path, marker: str, is_kind: Callable[[Any], bool], kind: str, what: str = "--out"
) -> None:
    """Let a command write its files into ``folder`` in place (a run folder): it must be free,
    or hold ``marker`` (JSON) that ``is_kind`` recognises as one of the command's ``kind``.
    Another kind of videoadviser folder is refused saying what it is."""
    if is_free(folder, what):
        return
    if is_kind(_json(folder / marker)):  # {} when missing or unreadable: no kind's mark
        return
    advice = f"choose a new or empty folder, or an earlier {kind}"
    _refuse_other_kind(folder, kind, f"nothing there is touched: {advice}", what)
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    raise ConfigError(
        f"{what} {folder}: not {_a(kind)} (no {marker} of one) and not empty: it holds "
        f"{describe(entries, folder)}. Nothing there is touched: {advice}"
    )
