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


def _teacher_with_encoder(clip_tokenizer, bert_tokenizer, **arch):  # type: ignore[no-untyped-def]
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
    arch = TeacherArchitecture(num_frames=T, transcript_encoder="some/bert", **arch)
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


def _encoder(kind: str, vocab: int, layers: int = 3):  # type: ignore[no-untyped-def]
    """A tiny random BERT or MPNet (MPNet's layers also take a relative position bias)."""
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    config_class, model_class = {
        "bert": (BertConfig, BertModel),
        "mpnet": (MPNetConfig, MPNetModel),
    }[kind]
    torch.manual_seed(0)
    config = config_class(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
    )
    return model_class(config).eval()


def test_tuned_layers_refuse_an_encoder_that_does_more_than_embeddings_then_layers() -> None:
    from transformers import ElectraConfig, ElectraModel

    from videoadviser.teacher.model import TranscriptEncoder

    # ELECTRA projects its embeddings (16 wide) to the layers' width (32) in between
    config = ElectraConfig(
        vocab_size=50,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    encoder = ElectraModel(config)
    with pytest.raises(ValueError, match="'electra'.*transcript_tuned_layers = 0"):
        TranscriptEncoder(encoder, 16, tuned_layers=1)
    TranscriptEncoder(encoder, 16)  # frozen whole, it runs its own forward: fine


@pytest.mark.parametrize("kind", ["bert", "mpnet"])
@pytest.mark.parametrize("tuned", [1, 3])
def test_tuned_top_layers_on_cached_states_reproduce_the_whole_encoder(
    bert_tokenizer, kind: str, tuned: int
) -> None:  # type: ignore[no-untyped-def]
    from videoadviser.teacher.model import TranscriptEncoder

    encoder = _encoder(kind, bert_tokenizer.vocab_size)
    enc = bert_tokenizer(
        ["i loved it", "this is awful, really, truly"], padding=True, return_tensors="pt"
    )
    ids, mask = enc["input_ids"], enc["attention_mask"]
    split = TranscriptEncoder(encoder, 16, tuned_layers=tuned).eval()
    whole = TranscriptEncoder(encoder, 16).eval()
    whole.projection.load_state_dict(split.projection.state_dict())
    ran: list[int] = []  # the layers hidden() runs: only those below the tuned ones
    hooks = [
        layer.register_forward_hook(lambda *_, i=i: ran.append(i))
        for i, layer in enumerate(encoder.encoder.layer)
    ]
    with torch.no_grad():
        try:
            states = split.hidden(ids, mask)  # what the cache holds: the states below the tuned
        finally:
            for hook in hooks:
                hook.remove()
        assert ran == list(range(3 - tuned))
        assert states.shape == (2, ids.shape[1], 32)
        full = encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        expected = full.last_hidden_state
        real = mask.bool()
        # hidden runs only the layers below the tuned ones, and gives what the whole encoder
        # has there, bit for bit (a cache made either way holds the same states)
        assert torch.equal(states[real], full.hidden_states[3 - tuned][real])
        torch.testing.assert_close(split.top(states, mask)[real], expected[real])
        torch.testing.assert_close(split(states, mask)[0], whole(whole.hidden(ids, mask), mask)[0])
    assert split.split == 3 - tuned
    kept = split.frozen_part()  # what a cache of those states is keyed by
    assert not any(k.startswith(f"encoder.layer.{3 - tuned}.") for k in kept)
    assert any(k.startswith("embeddings.") for k in kept)


def test_attention_pooling_starts_as_the_mean_and_ignores_padding(bert_tokenizer) -> None:  # type: ignore[no-untyped-def]
    from videoadviser.teacher.model import TranscriptEncoder

    encoder = _encoder("bert", bert_tokenizer.vocab_size, layers=1)
    mean = TranscriptEncoder(encoder, 16).eval()
    attention = TranscriptEncoder(encoder, 16, pooling="attention").eval()
    attention.projection.load_state_dict(mean.projection.state_dict())
    enc = bert_tokenizer(
        ["i loved it", "this is awful, really"],
        padding="max_length",
        max_length=12,
        return_tensors="pt",
    )
    ids, mask = enc["input_ids"], enc["attention_mask"]
    with torch.no_grad():
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(attention(hidden, mask)[0], mean(hidden, mask)[0])
        torch.nn.init.normal_(attention.pool_score)  # once learned: still no padding
        before = attention(hidden, mask)[0]
        hidden[mask == 0] = 1e3
        torch.testing.assert_close(attention(hidden, mask)[0], before)
    with pytest.raises(
        ValueError, match="transcript_tuned_layers = 4: the transcript encoder has 1 layers"
    ):
        TranscriptEncoder(encoder, 16, tuned_layers=4)
    with pytest.raises(ValueError, match="pooling 'max'"):
        TranscriptEncoder(encoder, 16, pooling="max")


def test_gated_fusion_starts_as_the_mean_and_honours_the_masks(tokenizer) -> None:  # type: ignore[no-untyped-def]
    mean = _teacher(tokenizer)
    gated = _teacher(tokenizer, fusion="gated")
    inputs = _inputs(tokenizer)
    with torch.no_grad():
        torch.testing.assert_close(gated(**inputs).logits, mean(**inputs).logits)
        torch.nn.init.normal_(gated.gate.weight)  # a learned gate: other weights per clip
        shown = gated(**inputs).logits
        assert not torch.allclose(shown, mean(**inputs).logits, atol=1e-4)
        # clip 1 has no video: whatever the gate says, only its transcript counts
        inputs["pixels"][1] = torch.randn(T, 3, S, S) * 5
        torch.testing.assert_close(gated(**inputs).logits[1], shown[1])
    assert _teacher(tokenizer, fusion="gated", use_video=False).gate is None  # one modality


def test_hidden_transcripts_are_not_encoded_and_shown_ones_are_unchanged(
    tokenizer, bert_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    """With tuned layers on cached states, only the transcripts shown run through them."""
    teacher = _teacher_with_encoder(tokenizer, bert_tokenizer, transcript_tuned_layers=1)
    texts = ["i loved it", "this is awful, really", "okay"]
    enc = bert_tokenizer(texts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    rows_encoded = []
    top = teacher.transcript.top
    teacher.transcript.top = lambda h, m: rows_encoded.append(h.shape[0]) or top(h, m)
    with torch.no_grad():
        hidden = teacher.transcript.hidden(ids, mask)
        pooled, tokens = teacher.encode_transcript(ids, mask, hidden)
        keep = torch.tensor([True, False, True])
        some_pooled, some_tokens = teacher._shown_transcripts(keep, ids, mask, hidden)
        assert rows_encoded == [3, 2]  # the hidden transcript never ran
        torch.testing.assert_close(some_pooled[keep], pooled[keep])
        torch.testing.assert_close(some_tokens[keep], tokens[keep])
        assert not some_pooled[1].any() and not some_tokens[1].any()
        nothing = torch.zeros(3, dtype=torch.bool)
        none_pooled, none_tokens = teacher._shown_transcripts(nothing, ids, mask, hidden)
        assert rows_encoded == [3, 2] and not none_pooled.any()
        assert none_pooled.shape == pooled.shape and none_tokens.shape == tokens.shape
        inputs = {**_inputs(tokenizer), "text_ids": ids, "text_mask": mask, "text_hidden": hidden}
        out = teacher(**inputs, transcript_mask=nothing)
        assert torch.isfinite(out.regression).all()
