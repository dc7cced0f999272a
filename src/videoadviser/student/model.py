"""Build and load the student.

The student is ``AutoModelForSequenceClassification`` with one output
(``problem_type="regression"``): the encoder that ``AutoModel`` would load, plus the
architecture's standard head (dropout + linear; BERT puts its pooler before it, RoBERTa a
dense layer). Training it as that class makes the export exact: the saved folder *is* a
standard transformers model that gives the same predictions without videoadviser installed.
"""

from __future__ import annotations

from pathlib import Path

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from videoadviser.errors import ConfigError
from videoadviser.pretrained import resolve_text_checkpoint
from videoadviser.utils.runtime import quiet_loggers


def build_student(
    checkpoint: str, dropout: float
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A fresh regression student on a pretrained encoder (hub id, folder or ``minilm``)."""
    source = resolve_text_checkpoint(checkpoint)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        # the regression head is new by design: no "MISSING" table
        with quiet_loggers("transformers.modeling_utils"):
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
