"""Teacher shapes, modality masks and switches, on a random tiny CLIP."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPModel

from videoadviser.teacher.clip_checkpoint import build_clip_tokenizer, clip_config
from videoadviser.teacher.model import TeacherArchitecture, class_names
from videoadviser.teacher.trainer import TeacherTokenizers, assemble_teacher

B, T, S = 3, 4, 64


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return build_clip_tokenizer()


def _teacher(tokenizer, **arch):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return assemble_teacher(
        CLIPModel(clip_config("tiny")),
        TeacherTokenizers(tokenizer),
        TeacherArchitecture(num_frames=T, **arch),
    ).eval()


def _inputs(tokenizer):  # type: ignore[no-untyped-def]
    enc = tokenizer(
        ["i loved it", "this is awful, really", "okay"], padding=True, return_tensors="pt"
    )
    torch.manual_seed(1)
    return {
        "text_ids": enc["input_ids"],
        "text_mask": enc["attention_mask"],
        "video_mask": torch.tensor([True, False, True]),
        "pixels": torch.randn(B, T, 3, S, S),
    }


def test_shapes_and_finite(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer)
    out = teacher(**_inputs(tokenizer))
    assert out.logits.shape == (B, 7) and out.regression.shape == (B,)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.regression).all()
    frames, patches = teacher.encode_frames(torch.randn(B, T, 3, S, S))
    assert frames.shape == (B, T, 64) and patches.shape == (B, 16, 64)  # 64 px / 16 px patches


def test_blank_video_is_ignored(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer)
    inputs = _inputs(tokenizer)
    before = teacher(**inputs)
    inputs["pixels"][1] = torch.randn(T, 3, S, S) * 5  # clip 1 has no usable video
    after = teacher(**inputs)
    assert torch.allclose(before.logits[1], after.logits[1], atol=1e-6)
    inputs["pixels"][0] = torch.randn(T, 3, S, S) * 5  # clip 0 does: its output changes
    assert not torch.allclose(before.logits[0], teacher(**inputs).logits[0], atol=1e-4)


def test_video_only_teacher_ignores_transcript_and_survives_blank(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer, use_text=False)
    inputs = _inputs(tokenizer)
    out = teacher(**inputs)
    assert torch.isfinite(out.logits).all()  # clip 1 has no modality at all: null token only
    inputs["text_ids"] = inputs["text_ids"].flip(0)
    assert torch.allclose(out.logits, teacher(**inputs).logits, atol=1e-6)


def test_transcript_only_teacher_needs_no_pixels(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer, use_video=False)
    inputs = _inputs(tokenizer)
    del inputs["pixels"]
    assert teacher(**inputs).logits.shape == (B, 7)


def test_prompt_enhancement_switch(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer, prompt_enhancement=False)
    inputs = _inputs(tokenizer)
    out = teacher(**inputs)
    assert torch.isfinite(out.logits).all()
    # with enhancement the prompts depend on the clip: zeroing alpha gives the plain prompts
    enhanced = _teacher(tokenizer)
    with torch.no_grad():
        enhanced.enhancer.alpha.zero_()
    plain = _teacher(tokenizer, prompt_enhancement=False)
    plain.load_state_dict(enhanced.state_dict())
    assert torch.allclose(enhanced(**inputs).logits, plain(**inputs).logits, atol=1e-5)


def test_expectation_head_starts_at_the_expected_class_score(tokenizer) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher(tokenizer, head="expectation")
    out = teacher(**_inputs(tokenizer))
    values = torch.linspace(-3, 3, 7)
    assert torch.allclose(out.regression, (out.logits.softmax(-1) * values).sum(-1), atol=1e-6)


def test_class_names() -> None:
    assert class_names(7)[0] == "highly negative" and class_names(7)[3] == "neutral"
    assert len(class_names(5)) == 5


@pytest.fixture(scope="module")
def bert_tokenizer():  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from videoadviser.pretrained import minilm_path

    return AutoTokenizer.from_pretrained(minilm_path())


def _teacher_with_encoder(clip_tokenizer, bert_tokenizer):  # type: ignore[no-untyped-def]
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    encoder = BertModel(
        BertConfig(
            vocab_size=bert_tokenizer.vocab_size,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    )
    arch = TeacherArchitecture(num_frames=T, transcript_encoder="some/bert")
    tokenizers = TeacherTokenizers(clip_tokenizer, bert_tokenizer)
    return assemble_teacher(CLIPModel(clip_config("tiny")), tokenizers, arch, encoder).eval()


def test_pretrained_transcript_encoder_shapes_padding_and_precomputed_states(
    tokenizer, bert_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    teacher = _teacher_with_encoder(tokenizer, bert_tokenizer)
    texts = ["i loved it", "this is awful, really", "okay"]
    short = bert_tokenizer(texts, padding=True, return_tensors="pt")
    long = bert_tokenizer(texts, padding="max_length", max_length=20, return_tensors="pt")
    inputs = _inputs(tokenizer)
    out = teacher(
        **{**inputs, "text_ids": short["input_ids"], "text_mask": short["attention_mask"]}
    )
    assert out.logits.shape == (B, 7) and torch.isfinite(out.regression).all()
    pooled, tokens = teacher.encode_transcript(short["input_ids"], short["attention_mask"])
    assert pooled.shape == (B, 64) and tokens.shape == (B, short["input_ids"].shape[1], 64)
    # more padding changes nothing: the mean and the attention both ignore padded tokens
    padded = teacher(
        **{**inputs, "text_ids": long["input_ids"], "text_mask": long["attention_mask"]}
    )
    assert torch.allclose(out.logits, padded.logits, atol=1e-5)
    # precomputed encoder states (a frozen encoder runs once) give the same outputs
    with torch.no_grad():
        hidden = teacher.transcript.hidden(short["input_ids"], short["attention_mask"])
    again = teacher(
        **{**inputs, "text_ids": short["input_ids"], "text_mask": short["attention_mask"]},
        text_hidden=hidden,
    )
    assert torch.allclose(out.logits, again.logits, atol=1e-6)


def test_transcript_encoder_must_match_the_architecture(tokenizer) -> None:  # type: ignore[no-untyped-def]
    arch = TeacherArchitecture(num_frames=T, transcript_encoder="minilm")
    with pytest.raises(ValueError, match="transcript encoder"):
        assemble_teacher(CLIPModel(clip_config("tiny")), TeacherTokenizers(tokenizer), arch)
