"""The one tokenizer call for transcripts: truncate to a limit, and say so once when it bites.

A transcript longer than the model's limit is cut at ``max_length`` tokens, as every
transformers pipeline does; what videoadviser adds is one warning per call naming how many
texts were cut and the longest, so a 10,000-word transcript is never cut silently.
"""

from __future__ import annotations

import logging
from typing import Any

from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

NO_LIMIT = 10**6  # a tokenizer's model_max_length above this is transformers' "none known"


def length_range(tokenizer: PreTrainedTokenizerBase, positions: int | None) -> tuple[int, int]:
    """The ``max_length`` values a model reads through ``tokenizer``: from its special tokens
    plus one (below that a tokenizer truncates nothing at all) to the tokens the model reads
    (the tokenizer's ``model_max_length``, and at most ``positions``, the model's position
    embeddings, when known; :data:`NO_LIMIT` when neither is)."""
    lowest = tokenizer.num_special_tokens_to_add() + 1
    limits = [n for n in (tokenizer.model_max_length, positions) if n and n < NO_LIMIT]
    return lowest, min(limits, default=NO_LIMIT)


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, what: str, **kwargs: Any
) -> Any:
    """``tokenizer(texts, truncation=True, max_length=max_length, **kwargs)``, with one warning
    if any text had more than ``max_length`` tokens (``what`` names the texts)."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length, **kwargs)
    mask = encoded["attention_mask"]
    if isinstance(mask, list):  # lists of ints, one per text
        lengths = [sum(row) for row in mask]
    else:  # a padded (N, L) tensor or array
        lengths = [int(n) for n in mask.sum(-1).tolist()]
    at_limit = [i for i, n in enumerate(lengths) if n >= max_length]
    if at_limit:  # only these can have been cut; count their full length
        full = {i: len(tokenizer(texts[i], verbose=False)["input_ids"]) for i in at_limit}
        cut = {i: n for i, n in full.items() if n > max_length}
        if cut:
            longest = max(cut, key=cut.__getitem__)
            logger.warning(
                "%d of %d %s are longer than %d tokens and were truncated to it (the longest, "
                "#%d, has %d tokens: %r...)",
                len(cut),
                len(texts),
                what,
                max_length,
                longest,
                cut[longest],
                texts[longest][:60],
            )
    return encoded
