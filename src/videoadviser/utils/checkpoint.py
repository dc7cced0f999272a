"""The one checkpoint writer: safetensors for tensors, JSON for everything else, atomically.

A checkpoint is a folder. It is assembled under a temporary name next to its target and
swapped into place only when complete, so a crash never leaves a half-written checkpoint that a
later run (a resume, a predict) would trust. Nothing is ever unpickled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from videoadviser.errors import ConfigError
from videoadviser.utils.io import read_json, staged_folder, write_json

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


def _contiguous(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_checkpoint(
    folder: str | Path,
    tensors: dict[str, torch.Tensor],
    config: dict[str, Any],
    extra: Callable[[Path], None] | None = None,
    other_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
    kind: str = "checkpoint",
) -> Path:
    """Write ``model.safetensors`` + ``config.json`` (+ files written by ``extra``) atomically.

    Args:
        folder: the checkpoint folder (replaced if it exists).
        tensors: the model's state dict.
        config: JSON-serialisable description needed to rebuild the model.
        extra: called with the staging folder to add files (a tokenizer, a CLIP config).
        other_tensors: further safetensors files, ``{file stem: tensors}`` (optimizer state).
        kind: what the checkpoint is (its manifest's kind): only a checkpoint of this kind
            is replaced (:func:`~videoadviser.utils.io.staged_folder`).
    """
    with staged_folder(folder, kind) as staging:
        save_file(_contiguous(tensors), str(staging / MODEL_FILE))
        for stem, group in (other_tensors or {}).items():
            save_file(_contiguous(group), str(staging / f"{stem}.safetensors"))
        write_json(staging / CONFIG_FILE, config)
        if extra is not None:
            extra(staging)
    return Path(folder)


def load_checkpoint(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``model.safetensors`` and ``config.json`` from a checkpoint folder."""
    folder = Path(folder)
    if not (folder / MODEL_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise ConfigError(f"{folder}: not a checkpoint (needs {MODEL_FILE} and {CONFIG_FILE})")
    return load_file(str(folder / MODEL_FILE)), read_json(folder / CONFIG_FILE)


def optimizer_to_tensors(
    optimizer: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state into flat tensors and JSON (no pickle needed to save it)."""
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Inverse of :func:`optimizer_to_tensors`: load the state into ``optimizer``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, slots in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(slots)
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def load_optimizer(
    optimizer: torch.optim.Optimizer, folder: str | Path, meta: dict[str, Any]
) -> bool:
    """Load a resume point's ``optimizer.safetensors`` (with its ``meta``) into ``optimizer``;
    False, and nothing loaded, if it does not fit (other parameter groups: an older version,
    or another model, wrote it)."""
    try:
        tensors = load_tensors(Path(folder) / "optimizer.safetensors")
        optimizer_from_tensors(optimizer, tensors, meta)
    except (ValueError, KeyError):
        return False
    return True


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))
