"""Stage stamps: a finished stage is reused only if it was made from the same inputs.

Every stage folder of a run (a teacher, a student) holds ``stage.json``: the recipe sections
that shape the stage, the fingerprints of the data it read and the package version. The stamp
is written *before* the stage starts, and a stage counts as finished only once its
``metrics.json`` exists, so a stage interrupted mid-way is resumed only by the same recipe. A
folder whose stamp differs, or that holds a finished stage without a stamp (an older version
wrote it), stops the command with a message naming the differences; ``overwrite`` deletes what
the stage wrote there and retrains instead. Every command that trains a stage (``run``,
``teacher train``, ``student train``, ``retrieval run``) claims its folder here, so a stage's
weights are never trusted under another stage's stamp. What a user put in a stage folder is
never deleted (:mod:`videoadviser.utils.ownership`), and a stage of one kind (a teacher) never
replaces one of another (a student).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from videoadviser import __version__
from videoadviser.errors import ConfigError
from videoadviser.utils.io import read_json, to_jsonable, write_json
from videoadviser.utils.ownership import (
    STAGE_LAYOUT,
    check_folder_path,
    foreign_files,
    is_free,
    refuse_foreign,
)
from videoadviser.utils.runtime import main_process_first, wait_for_everyone

logger = logging.getLogger(__name__)

STAMP_FILE = "stage.json"
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


def claim_stage(folder: Path, stamp: dict[str, Any], overwrite: bool = False) -> bool:
    """Make ``folder`` this stage's, and say whether it holds the stage finished.

    Returns:
        ``True`` if ``folder`` holds a finished stage with this very stamp (reuse it),
        ``False`` if the stage is to run (the stamp is then written, and any partial state
        with the same stamp, such as a teacher's ``last/``, may be resumed).

    Raises:
        ConfigError: the folder was made from other inputs, or is a finished stage with no
            stamp, and ``overwrite`` is off; or, whatever ``overwrite``, it is a file, holds
            a stage of another kind, or (when the stage is to run) files that no stage wrote.
    """
    check_folder_path(folder)
    path = folder / STAMP_FILE
    saved = read_json(path) if path.is_file() else None
    saved = saved if isinstance(saved, dict) else None
    finished = (folder / DONE_FILE).is_file()
    if saved is not None and saved.get("hash") == stamp["hash"]:
        if not finished:  # it is to be written: nothing of a user's may be in the way
            refuse_foreign(folder, foreign_files(folder, STAGE_LAYOUT))
        return finished
    if is_free(folder) or [p.name for p in folder.iterdir()] == [STAMP_FILE]:
        write_json(path, stamp)  # (a stamp alone: the stage never started; nothing is lost)
        return False
    refuse_foreign(folder, foreign_files(folder, STAGE_LAYOUT))
    made = saved.get("kind") if saved is not None else None
    if made is not None and made != stamp.get("kind"):
        raise ConfigError(
            f"{folder} holds a {made} stage, so a {stamp.get('kind')} cannot go there (it is "
            "left as it is): choose another --out"
        )
    if overwrite:
        logger.warning("--overwrite: replacing the stage in %s and running it again", folder)
        _clear(folder)
        write_json(path, stamp)
        return False
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


def _clear(folder: Path) -> None:
    """Delete what a stage wrote in ``folder`` (checked by the caller to hold nothing else: a
    symbolic link anywhere in it is a user's, :func:`~videoadviser.utils.ownership.foreign_files`
    names it and the caller stops). A link is never deleted here, whatever its name."""
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
        finished = (folder / "metrics.json").is_file()
        if stamp is not None:
            finished = claim_stage(folder, stamp, overwrite)
    if finished:
        logger.info("reusing finished stage %s", folder)
        return {"metrics": read_json(folder / "metrics.json"), "reused": True}
    result = run()
    wait_for_everyone()  # what the main process wrote is there for every process
    return result
