"""Stage stamps: a finished stage is reused only if it was made from the same inputs.

Every stage folder of a run (a teacher, a student) holds ``stage.json``: the recipe sections
that shape the stage, the fingerprints of the data it read and the package version. The stamp
is written *before* the stage starts, and a stage counts as finished only once its
``metrics.json`` and all else it writes (:data:`STAGE_OUTPUTS`) are there, so a stage
interrupted mid-way, or one that lost an output since, is run again only by the same recipe. A
folder whose stamp differs, or that holds a finished stage without a stamp (an older version
wrote it), stops the command with a message naming the differences; ``overwrite`` deletes what
the stage wrote there and retrains instead. Every command that trains a stage (``run``,
``teacher train``, ``student train``, ``retrieval run``) claims its folder here, so a stage's
weights are never trusted under another stage's stamp; a run checks all its stage folders
before the first trains (:func:`check_stages`). What a user put in a stage folder is never
deleted (:mod:`videoadviser.utils.ownership`), and a stage of one kind (a teacher) never
replaces one of another (a student), told by its stamp or, without one, by what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from videoadviser import __version__
from videoadviser.errors import ConfigError
from videoadviser.utils.io import read_json, to_jsonable, write_json
from videoadviser.utils.ownership import (
    RETRIEVAL_CHECKPOINT,
    STAGE_LAYOUT,
    STAGE_MARKER,
    STUDENT_MODEL,
    STUDENT_RESUME_POINT,
    TEACHER_CHECKPOINT,
    check_folder_path,
    describe,
    foreign_files,
    is_free,
    missing_files,
    product_kind,
    refuse_foreign,
    refuse_link,
)
from videoadviser.utils.runtime import main_process_first, wait_for_everyone

logger = logging.getLogger(__name__)

STAMP_FILE = STAGE_MARKER  # (named in ownership, which judges folders by it)
DONE_FILE = "metrics.json"


def make_stamp(*, kind: str = "stage", **inputs: Any) -> dict[str, Any]:
    """A stamp of a ``kind`` of stage (``teacher``, ``student``) made from ``inputs`` (recipe
    sections, data fingerprints, other stamps' hashes), with the package version and a hash
    over the inputs."""
    inputs = to_jsonable({**inputs, "version": __version__})
    return {"kind": kind, "hash": stamp_hash(inputs), "inputs": inputs}


def stamp_hash(inputs: dict[str, Any]) -> str:
    """A short hash of JSON-able ``inputs`` (key order does not matter)."""
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _differences(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON-like trees."""
    if isinstance(saved, dict) and isinstance(current, dict):
        out: list[str] = []
        for key in sorted(set(saved) | set(current), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved or key not in current:
                out.append(name)
            else:
                out.extend(_differences(saved[key], current[key], name))
        return out
    return [] if saved == current else [f"{prefix} ({saved!r} -> {current!r})"]


# what each kind of stage writes beside its stamp: a file (``None``) or a product (its kind)
STAGE_OUTPUTS: dict[str, dict[str, str | None]] = {
    "teacher": {
        DONE_FILE: None,
        "history.csv": None,
        "best": TEACHER_CHECKPOINT,
        "last": TEACHER_CHECKPOINT,
    },
    "student": {
        DONE_FILE: None,
        "history.csv": None,
        "predictions.csv": None,
        "best": STUDENT_MODEL,
        "last": STUDENT_RESUME_POINT,
    },
    "retrieval teacher": {DONE_FILE: None, "teacher_outputs.h5": None},
    "retrieval model": {
        DONE_FILE: None,
        "history.csv": None,
        "queries.csv": None,
        "model": RETRIEVAL_CHECKPOINT,
    },
}
# a stage's resume point, while it trains: the one output a finished stage may lack (a student
# removes it); it records the checkpoint's selection, so it goes when that checkpoint is gone
RESUME_POINT = "last"
# what claiming a stage folder does (:func:`plan_stage`)
REUSE, RESUME, START, REPLACE = "reuse", "resume", "start", "replace"


def missing_outputs(folder: Path, kind: str) -> list[str]:
    """What a finished stage of ``kind`` (:data:`STAGE_OUTPUTS`; another kind: its
    ``metrics.json``) lacks in ``folder``: files, products, or files of a product, relative
    to ``folder``. Empty when the stage is whole."""
    missing = []
    for name, product in STAGE_OUTPUTS.get(kind, {DONE_FILE: None}).items():
        path = folder / name
        if name == RESUME_POINT:
            continue
        if product is None:
            missing.extend([] if path.is_file() else [name])
        elif not path.is_dir():
            missing.append(f"{name}/")
        elif product_kind(path) != product:
            missing.append(f"{name}/ (not the stage's {product})")
        else:
            missing.extend(f"{name}/{f}" for f in missing_files(path))
    return missing


def told_kinds(folder: Path) -> set[str]:
    """The kinds of stage that ``folder``'s outputs tell, whatever its stamp says: a product
    of a kind only one stage kind writes there, a file only one writes (a student's
    ``predictions.csv``); a folder of fold stages by its folds'."""
    kinds = set()
    for kind, outputs in STAGE_OUTPUTS.items():
        for name, product in outputs.items():
            path = folder / name
            if product is not None and product_kind(path) == product:
                kinds.add(kind)
            elif product is None and path.is_file():
                if sum(name in other for other in STAGE_OUTPUTS.values()) == 1:
                    kinds.add(kind)
    for fold in sorted(folder.glob("fold_*")):
        kinds |= told_kinds(fold) if fold.is_dir() else set()
    return kinds


def check_stage_folder(folder: Path, kind: str, stamp: dict[str, Any] | None = None) -> None:
    """Refuse, whatever ``--overwrite``, to write a stage of ``kind`` into ``folder`` while it
    holds files no stage wrote, or a stage of another kind: told by its ``stamp`` (what its
    ``stage.json`` holds), else by its outputs (:func:`told_kinds`)."""
    refuse_foreign(folder, foreign_files(folder, STAGE_LAYOUT))
    made = {stamp["kind"]} if stamp is not None and stamp.get("kind") else told_kinds(folder)
    other = sorted(made - {kind})
    if other:
        raise ConfigError(
            f"{folder} holds a {other[0]} stage, so a {kind} cannot go there (it is left as "
            "it is): choose another --out"
        )


def _saved_stamp(folder: Path) -> dict[str, Any] | None:
    """The stamp in ``folder``'s ``stage.json`` (``None``: none, or not a JSON object)."""
    path = folder / STAMP_FILE
    saved = read_json(path) if path.is_file() else None
    return saved if isinstance(saved, dict) else None


def _check_stage_path(folder: Path) -> None:
    """Refuse a stage ``folder`` that is a file, or a symbolic link (to an older run's stage,
    say): a stage is written, resumed or cleared only in a folder of its own, never through a
    link into another."""
    refuse_link(folder)
    check_folder_path(folder)


def plan_stage(folder: Path, stamp: dict[str, Any], overwrite: bool) -> tuple[str, list[str]]:
    """What claiming ``folder`` for ``stamp`` does, and what a finished-looking stage there
    lacks; raises what :func:`claim_stage` refuses. Nothing is written.

    Returns:
        :data:`REUSE` (finished and whole, this very stamp), :data:`RESUME` (this stamp, not
        finished, or lacking the outputs listed), :data:`START` (free, or a stamp alone) or
        :data:`REPLACE` (``overwrite`` of the tool's own stage of this kind).
    """
    _check_stage_path(folder)
    kind = str(stamp.get("kind"))
    saved = _saved_stamp(folder)
    finished = (folder / DONE_FILE).is_file()
    if saved is not None and saved.get("hash") == stamp["hash"]:
        missing = missing_outputs(folder, kind) if finished else []
        if finished and not missing:
            return REUSE, []
        refuse_foreign(folder, foreign_files(folder, STAGE_LAYOUT))  # it is to be written
        return RESUME, missing
    if is_free(folder) or [p.name for p in folder.iterdir()] == [STAMP_FILE]:
        return START, []  # (a stamp alone: the stage never started; nothing is lost)
    check_stage_folder(folder, kind, saved)
    if overwrite:
        return REPLACE, []
    if saved is None:
        reason = (
            "holds a finished stage without a stage.json (an older videoadviser wrote it)"
            if finished
            else "exists but has no stage.json, so what made it is unknown"
        )
    else:
        changed = _differences(saved.get("inputs", {}), stamp["inputs"])
        reason = "was made from other inputs; changed: " + "; ".join(changed[:8])
        if len(changed) > 8:
            reason += f"; and {len(changed) - 8} more"
    raise ConfigError(
        f"{folder} {reason}. Its results would not be what this recipe produces: pass "
        "--overwrite to retrain it (that replaces only what videoadviser wrote there), or "
        "choose another --out folder"
    )


def check_stages(
    stages: Iterable[tuple[Path, dict[str, Any] | str]], overwrite: bool = False
) -> None:
    """A run's pre-flight: raise now, before any stage trains, what claiming each of its
    ``(folder, stamp)`` stages would raise later (a user's file in a stage to be written, a
    stage of another kind, one made from other inputs without ``overwrite``). Nothing is
    written; a stage that will be reused is only read, so what it holds is not looked into.

    A stage whose stamp is known only once earlier stages ran (a model that learns from a
    teacher still to train) is given by its kind: it is to be written, so it must hold
    nothing of a user's and no stage of another kind (:func:`check_stage_folder`).
    """
    for folder, stamp in stages:
        if isinstance(stamp, str):
            _check_stage_path(folder)
            if not is_free(folder):
                check_stage_folder(folder, stamp, _saved_stamp(folder))
        else:
            plan_stage(folder, stamp, overwrite)


def claim_stage(folder: Path, stamp: dict[str, Any], overwrite: bool = False) -> bool:
    """Make ``folder`` this stage's, and say whether it holds the stage finished.

    Returns:
        ``True`` if ``folder`` holds a finished stage with this very stamp and everything it
        produces (:data:`STAGE_OUTPUTS`): reuse it. ``False`` if the stage is to run (the
        stamp is then written, and any partial state with the same stamp, such as a
        teacher's ``last/``, may be resumed). A stage with this stamp that looks finished but
        lacks some of its outputs runs again, with a warning naming them: it is the tool's
        own, made from these very inputs, so running it again gives what it gave.

    Raises:
        ConfigError: the folder was made from other inputs, or is a finished stage with no
            stamp, and ``overwrite`` is off; or, whatever ``overwrite``, it is a file, holds
            a stage of another kind (told by its stamp, else by its outputs), or (when the
            stage is to run) files that no stage wrote.
    """
    action, missing = plan_stage(folder, stamp, overwrite)
    if action == REUSE:
        return True
    if action == RESUME:
        if missing:
            _reopen(folder, missing, str(stamp.get("kind")))
        return False
    if action == REPLACE:
        logger.warning("--overwrite: replacing the stage in %s and running it again", folder)
        _clear(folder)
    write_json(folder / STAMP_FILE, stamp)
    return False


def confirm_finished(folder: Path, kind: str) -> bool:
    """Whether ``folder`` holds a finished stage of ``kind`` with all its outputs, for a stage
    without a stamp of its own inside a claimed one (a fold teacher in ``teacher_oof``). One
    that looks finished but lacks some runs again, with a warning naming them."""
    if not (folder / DONE_FILE).is_file():
        return False
    missing = missing_outputs(folder, kind)
    if missing:
        _reopen(folder, missing, kind)
    return not missing


def _reopen(folder: Path, missing: list[str], kind: str) -> None:
    """Make a finished-looking stage that lacks ``missing`` outputs run again: it no longer
    looks finished, and its resume point goes when the checkpoint it tracks is broken (or it
    is itself). The caller checked that the folder holds only what stages wrote."""
    logger.warning(
        "a finished stage lacks %s, which it writes (deleted since?): running the stage in "
        "%s again",
        describe(missing, folder),
        folder,
    )
    (folder / DONE_FILE).unlink(missing_ok=True)
    products = {n for n, p in STAGE_OUTPUTS.get(kind, {}).items() if p and n != RESUME_POINT}
    resume = folder / RESUME_POINT
    broken = any(m.split("/", 1)[0] in products for m in missing) or missing_files(resume)
    if broken and resume.is_dir() and not resume.is_symlink():
        shutil.rmtree(resume)


def _clear(folder: Path) -> None:
    """Delete what a stage wrote in ``folder`` (checked by the caller to hold nothing else: a
    symbolic link anywhere in it is a user's, :func:`~videoadviser.utils.ownership.foreign_files`
    names it and the caller stops). A link is never deleted here, whatever its name, nor
    ``folder`` cleared when it is one."""
    refuse_link(folder)
    for entry in folder.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            os.unlink(entry)


def reuse_or_run(
    folder: Path,
    run: Callable[[], dict[str, Any]],
    stamp: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run a stage unless ``folder`` holds it finished (then reuse its ``metrics.json``: a
    resumed run). With a ``stamp`` (:func:`make_stamp` of what the stage reads) a folder
    made from other inputs is an error, or, with ``overwrite``, deleted and run again."""
    with main_process_first():  # the main process claims (or clears) the folder first
        finished = (folder / DONE_FILE).is_file()
        if stamp is not None:
            finished = claim_stage(folder, stamp, overwrite)
    if finished:
        logger.info("reusing finished stage %s", folder)
        return {"metrics": read_json(folder / DONE_FILE), "reused": True}
    result = run()
    wait_for_everyone()  # what the main process wrote is there for every process
    return result
