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

from videoadviser.config import IN_PYTHON, Recipe, Source, range_error
from videoadviser.data.tokens import length_range
from videoadviser.errors import ConfigError
from videoadviser.pretrained import resolve_text_checkpoint, text_encoder_files
from videoadviser.utils.runtime import quiet_loggers


def check_student_checkpoints(recipe: Recipe, source: Source | None = None) -> None:
    """``student.max_length`` (and a ``[student.transfer]`` one) within what the student's
    checkpoint reads, checked before any work from its config and tokenizer alone (no
    weights): room for one token besides the special tokens its tokenizer adds (below that it
    cuts nothing), and no more tokens than its position embeddings hold (a longer text would
    fail mid-training).

    Raises:
        ConfigError: naming the key, its value, the range this checkpoint allows and where
            the value came from (``source``: the recipe file or ``--set``; default: a recipe
            built in Python).
    """
    source = source or Source(IN_PYTHON)
    student = recipe.student
    settings = [(student, source)]
    if student.transfer:
        settings.append((student.resolved(True), source.transfer(list(student.transfer))))
    ranges: dict[str, tuple[int, int]] = {}
    for cfg, where in settings:
        if cfg.checkpoint not in ranges:
            config, tokenizer = text_encoder_files(cfg.checkpoint, where.name("student.checkpoint"))
            positions = getattr(config, "max_position_embeddings", None)
            ranges[cfg.checkpoint] = length_range(tokenizer, positions)
        lowest, highest = ranges[cfg.checkpoint]
        if not lowest <= cfg.max_length <= highest:
            raise range_error(
                where,
                "student.max_length",
                cfg.max_length,
                f"{lowest} to {highest} for the student checkpoint {cfg.checkpoint!r} (its "
                f"tokenizer adds {lowest - 1} special tokens to each text: leave room for one of "
                f"text; it reads at most {highest} tokens)",
            )


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
