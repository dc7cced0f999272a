"""The CLIP tokenizer from the BPE file and random-weight checkpoints through from_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, CLIPModel

from videoadviser.errors import ConfigError
from videoadviser.teacher.clip_checkpoint import (
    build_clip_tokenizer,
    build_random_clip,
    clip_config,
    resolve_checkpoint,
)


def test_tokenizer_gives_openai_clip_ids() -> None:
    tokenizer = build_clip_tokenizer()
    # Ids of OpenAI's CLIP tokenizer for this sentence (the usual example of its docs).
    assert tokenizer("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tokenizer) == 49408
    assert tokenizer.pad_token_id == 49407


def test_random_checkpoint_round_trips_through_from_pretrained(tmp_path: Path) -> None:
    folder = build_random_clip("tiny", tmp_path / "clip", seed=3)
    model = CLIPModel.from_pretrained(folder)
    torch.manual_seed(3)
    again = CLIPModel(clip_config("tiny"))
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer("a photo of a cat")["input_ids"][1:3] == [320, 1125]


def test_resolve_checkpoint(tmp_path: Path) -> None:
    assert (
        resolve_checkpoint("openai/clip-vit-base-patch32", tmp_path)
        == "openai/clip-vit-base-patch32"
    )
    built = resolve_checkpoint("random:tiny", tmp_path)
    assert (Path(built) / "config.json").is_file()
    assert resolve_checkpoint("random:tiny", tmp_path) == built  # built once
    with pytest.raises(ConfigError, match="unknown CLIP architecture 'huge'"):
        resolve_checkpoint("random:huge", tmp_path)
