"""Transcript tokenization: a very long transcript is truncated, with one warning."""

from __future__ import annotations

import logging

import pytest

from videoadviser.data.tokens import tokenize
from videoadviser.student.model import build_student


def test_a_10000_word_transcript_is_truncated_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, tokenizer = build_student("minilm", 0.1)
    texts = ["a short one", "word " * 10_000, "another short transcript"]
    with caplog.at_level(logging.WARNING):
        encoded = tokenize(tokenizer, texts, 32, "train transcripts")
    assert [len(ids) for ids in encoded["input_ids"]] == [5, 32, 5]
    warnings = [r for r in caplog.records if r.name == "videoadviser.data.tokens"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "1 of 3 train transcripts are longer than 32 tokens" in message
    assert "#1, has 10002 tokens" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # a text of exactly the limit is not cut
        tokenize(tokenizer, ["word " * 30], 32, "texts")
    assert not [r for r in caplog.records if r.name == "videoadviser.data.tokens"]
