"""Teacher training for real on tiny data: loss falls, checkpoints round-trip, cache, resume."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard_scalars import read_tensorboard

import videoadviser.teacher.features as features
from videoadviser.config import Recipe, TeacherConfig
from videoadviser.data.dataset import load_dataset
from videoadviser.errors import ConfigError
from videoadviser.teacher.clip_checkpoint import build_random_clip
from videoadviser.teacher.model import TeacherArchitecture
from videoadviser.teacher.predict import predict_teacher
from videoadviser.teacher.trainer import (
    build_teacher,
    earliest_stop,
    frame_sampling,
    learning_rate,
    load_teacher,
    prepare_inputs,
    run_teacher,
    save_teacher,
    train_teacher,
    transcript_keep,
    video_keep,
)
from videoadviser.utils.checkpoint import load_tensors
from videoadviser.utils.io import read_json


def test_training_lowers_the_loss_and_writes_outputs(tiny_recipe: Recipe, tmp_path: Path) -> None:
    tiny_recipe.teacher.epochs = 6
    tiny_recipe.teacher.transcript_encoder = "clip"  # CLIP's towers, both tuned, as in the
    tiny_recipe.teacher.freeze_text = False  # paper recipes
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    result = train_teacher(tiny_recipe, dataset, tmp_path / "teacher", progress=False)
    losses = [h["train_loss"] for h in result["history"]]
    assert len(losses) == 6
    assert losses[-1] < losses[0] * 0.9
    for row in result["history"]:  # the total is CE + lambda1 * L1, both recorded
        total = row["loss_ce"] + tiny_recipe.teacher.lambda1 * row["loss_l1"]
        assert total == pytest.approx(row["train_loss"], rel=1e-5)
    header = (tmp_path / "teacher" / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,loss_ce,loss_l1,valid_mae,seconds"
    scalars = read_tensorboard(tmp_path / "teacher")  # the same curves for TensorBoard
    assert [p.value for p in scalars["valid/mae"]] == pytest.approx(
        [h["valid_mae"] for h in result["history"]], rel=1e-6
    )
    assert {"train/loss", "train/loss_ce", "train/loss_l1", "lr"} <= set(scalars)
    assert set(read_json(tmp_path / "teacher" / "metrics.json")) == {"train", "valid", "test"}
    assert (tmp_path / "teacher" / "best" / "model.safetensors").is_file()
    best = result["best_epoch"]
    valid_maes = [h["valid_mae"] for h in result["history"]]
    assert valid_maes[best - 1] == min(valid_maes)  # selected on validation only


def test_transcript_dropout_and_video_first_epochs() -> None:
    cfg = TeacherConfig(transcript_dropout=0.5, video_first_epochs=2)
    video = torch.arange(4000) % 4 != 0  # a quarter of the clips have no video

    def kept(epoch: int) -> torch.Tensor:
        return transcript_keep(cfg, epoch, video, torch.Generator().manual_seed(epoch))

    for epoch in (0, 1):  # video first: every clip with video hides its transcript
        assert torch.equal(kept(epoch), ~video)
    later = kept(2)
    assert later[~video].all()  # the only modality is never hidden
    assert abs(later[video].float().mean().item() - 0.5) < 0.03
    assert transcript_keep(TeacherConfig(), 0, video, torch.Generator()).all()  # no dropout


def test_only_a_teacher_that_reads_video_waits_before_early_stopping() -> None:
    cfg = TeacherConfig(min_epochs=15, video_first_epochs=20, patience=6)
    assert earliest_stop(cfg, TeacherArchitecture()) == 26  # transcripts get `patience` epochs
    assert earliest_stop(cfg, TeacherArchitecture(use_text=False)) == 26  # as the two-input
    assert earliest_stop(cfg, TeacherArchitecture(use_video=False)) == 0  # nothing to wait for
    cfg.transcript_warmup_epochs = 3  # the video-first epochs start after the warm-up
    assert earliest_stop(cfg, TeacherArchitecture()) == 29


def test_the_transcript_warmup_shows_every_transcript_and_no_video() -> None:
    cfg = TeacherConfig(transcript_warmup_epochs=2, video_first_epochs=2, transcript_dropout=0.5)
    video = torch.arange(400) % 4 != 0
    rng = torch.Generator().manual_seed(0)
    for epoch in (0, 1):  # warm-up: transcripts only
        text = transcript_keep(cfg, epoch, video, rng)
        assert text.all() and not video_keep(cfg, epoch, video, text, rng).any()
    for epoch in (2, 3):  # then video first
        text = transcript_keep(cfg, epoch, video, rng)
        assert torch.equal(text, ~video)
        assert torch.equal(video_keep(cfg, epoch, video, text, rng), video)
    assert 0.3 < transcript_keep(cfg, 4, video, rng)[video].float().mean() < 0.7


def test_video_dropout_hides_video_only_where_the_transcript_is_shown() -> None:
    cfg = TeacherConfig(transcript_dropout=0.5, video_dropout=0.4, video_first_epochs=1)
    video = torch.arange(4000) % 4 != 0  # a quarter of the clips have no video
    rng = torch.Generator().manual_seed(0)
    assert torch.equal(video_keep(cfg, 0, video, ~video, rng), video)  # video first: all shown
    text = transcript_keep(cfg, 1, video, rng)
    shown = video_keep(cfg, 1, video, text, rng)
    assert not (shown & ~video).any()  # a clip without video never gains one
    assert (shown | text).all()  # never both hidden
    assert shown[~text].all()  # a hidden transcript keeps the video
    assert abs(1 - shown[video & text].float().mean().item() - 0.4) < 0.04
    assert torch.equal(video_keep(TeacherConfig(), 5, video, text, rng), video)  # off


def test_top_transcript_layers_tune_on_cached_states(tiny_recipe: Recipe, tmp_path: Path) -> None:
    """Two tuned MiniLM layers: the four below are frozen and cached, the two learn at
    transcript_lr, and predictions from the cache equal running the whole encoder."""
    tiny_recipe.teacher.transcript_encoder = "minilm"
    tiny_recipe.teacher.transcript_tuned_layers = 2
    tiny_recipe.teacher.transcript_pooling = "attention"
    tiny_recipe.teacher.transcript_lr = 1e-3
    tiny_recipe.teacher.freeze_text = True
    tiny_recipe.teacher.epochs = 1
    teacher, tokenizers = build_teacher(tiny_recipe)
    tuned = {n for n, p in teacher.transcript.encoder.named_parameters() if p.requires_grad}
    assert tuned and all(n.startswith(("encoder.layer.4.", "encoder.layer.5.")) for n in tuned)
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    train_teacher(tiny_recipe, dataset, tmp_path / "t", progress=False)
    after, tokenizers, _ = load_teacher(tmp_path / "t" / "last")
    old, new = teacher.transcript.encoder.state_dict(), after.transcript.encoder.state_dict()
    assert torch.equal(
        old["encoder.layer.3.output.dense.weight"], new["encoder.layer.3.output.dense.weight"]
    )
    assert not torch.equal(
        old["encoder.layer.5.output.dense.weight"], new["encoder.layer.5.output.dense.weight"]
    )

    records = dataset.split("test")
    cached = prepare_inputs(after, tokenizers, records, tiny_recipe, progress=False)
    assert cached.text_hidden is not None  # the states entering layer 4, from the cache
    whole_frozen = replace(tiny_recipe.teacher, transcript_tuned_layers=0)
    frozen_teacher, _ = build_teacher(replace(tiny_recipe, teacher=whole_frozen))
    other = prepare_inputs(frozen_teacher, tokenizers, records, tiny_recipe, progress=False)
    assert other.text_hidden is not None  # another split point, another cache entry
    assert cached.text_hidden.entries[0].parents[1] != other.text_hidden.entries[0].parents[1]
    assert (
        learning_rate("transcript.encoder.encoder.layer.5.output.dense.weight", tiny_recipe.teacher)
        == 1e-3
    )
    assert (
        learning_rate("transcript.encoder.encoder.layer.5.output.dense.weight", whole_frozen)
        == whole_frozen.tower_lr
    )
    assert learning_rate("head.mlp.0.weight", whole_frozen) == whole_frozen.lr
    live = prepare_inputs(after, tokenizers, records, tiny_recipe, progress=False)
    live.text_hidden = None  # the whole encoder runs inside the forward instead
    sampling = frame_sampling(after, tiny_recipe.data)
    np.testing.assert_allclose(
        run_teacher(after, cached, sampling, 3)[0],
        run_teacher(after, live, sampling, 5)[0],
        atol=1e-5,
    )


def test_tuned_layers_freeze_after_the_transcript_warmup(
    tiny_recipe: Recipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the warm-up the tuned layers stop learning and their output is cached (folded):
    training goes on as if they ran every step, and the saved teacher runs them itself."""
    import videoadviser.teacher.trainer as trainer

    tiny_recipe.teacher.transcript_encoder = "minilm"
    tiny_recipe.teacher.transcript_tuned_layers = 1
    tiny_recipe.teacher.transcript_lr = 1e-3
    tiny_recipe.teacher.freeze_text = True
    tiny_recipe.teacher.transcript_warmup_epochs = 1
    tiny_recipe.teacher.patience = 5  # no early stop
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    weights = {}
    for epochs in (1, 2):  # the same seed: the second run's first epoch is the first run's
        tiny_recipe.teacher.epochs = epochs
        train_teacher(tiny_recipe, dataset, tmp_path / str(epochs), progress=False, resume=False)
        weights[epochs] = load_tensors(tmp_path / str(epochs) / "last" / "model.safetensors")
    top = "transcript.encoder.encoder.layer.5.output.dense.weight"
    assert torch.equal(weights[1][top], weights[2][top])  # not tuned after the warm-up
    assert not torch.equal(weights[1]["head.mlp.0.weight"], weights[2]["head.mlp.0.weight"])

    monkeypatch.setattr(trainer, "fold_tuned_layers", lambda *a, **k: None)  # run them instead
    unfolded = train_teacher(tiny_recipe, dataset, tmp_path / "u", progress=False, resume=False)
    again = load_tensors(tmp_path / "u" / "last" / "model.safetensors")
    for name in ("head.mlp.0.weight", "transcript.projection.weight"):
        step = (weights[2][name] - weights[1][name]).abs().max()  # what epoch 2 changed
        assert (again[name] - weights[2][name]).abs().max() < 0.05 * step  # rounding only
    folded = read_json(tmp_path / "2" / "metrics.json")  # scored by the saved teacher
    assert folded["test"]["MAE"] == pytest.approx(unfolded["metrics"]["test"]["MAE"], abs=1e-3)


def test_checkpoint_round_trip_gives_identical_predictions(
    tiny_recipe: Recipe, tmp_path: Path
) -> None:
    tiny_recipe.teacher.epochs = 1
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    train_teacher(tiny_recipe, dataset, tmp_path / "t", False, predictions_file=tmp_path / "a.csv")
    teacher, tokenizers, config = load_teacher(tmp_path / "t" / "best")
    inputs = prepare_inputs(teacher, tokenizers, dataset.split("test"), tiny_recipe, progress=False)
    sampling = frame_sampling(teacher, tiny_recipe.data)
    first, logits = run_teacher(teacher, inputs, sampling, 4)
    save_teacher(tmp_path / "copy", teacher, tokenizers, config)
    again, _, _ = load_teacher(tmp_path / "copy")
    second, _ = run_teacher(again, inputs, sampling, 7)  # another batch size, same numbers
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-6)
    assert np.isfinite(logits).all() and logits.shape == (8, 7)

    rows = predict_teacher(
        tmp_path / "t" / "best", dataset, tiny_recipe, tmp_path / "pred.csv", progress=False
    )
    assert len(rows) == 40
    with open(tmp_path / "pred.csv", newline="") as handle:
        written = list(csv.DictReader(handle))
    test_rows = [r for r in written if r["split"] == "test"]
    np.testing.assert_allclose([float(r["r_T"]) for r in test_rows], first, atol=1e-5)
    assert list(written[0])[:5] == ["uid", "split", "label", "has_video", "r_T"]
    with open(tmp_path / "a.csv", newline="") as handle:  # written by training, same numbers
        from_training = list(csv.DictReader(handle))
    assert [(r["uid"], r["split"]) for r in from_training] == [
        (r["uid"], r["split"]) for r in written
    ]
    for key in written[0]:
        if key.startswith(("r_T", "logit_")):
            np.testing.assert_allclose(
                [float(r[key]) for r in from_training], [float(r[key]) for r in written], atol=1e-5
            )


def test_frozen_vision_cache_matches_recomputing(
    tiny_recipe: Recipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_recipe.teacher.freeze_vision = True
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    records = dataset.split("valid")
    teacher, tokenizers = build_teacher(tiny_recipe)
    teacher.eval()
    first = prepare_inputs(teacher, tokenizers, records, tiny_recipe, progress=False)
    assert list((Path(tiny_recipe.cache_dir) / "features").glob("*.safetensors"))

    def no_decoding(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the second run must read the cache, not decode")

    monkeypatch.setattr(features, "decode_into_cache", no_decoding)
    second = prepare_inputs(teacher, tokenizers, records, tiny_recipe, progress=False)
    assert torch.equal(first.frame_features, second.frame_features)
    monkeypatch.undo()

    tiny_recipe.teacher.freeze_vision = False  # recompute from decoded frames
    tuned = prepare_inputs(teacher, tokenizers, records, tiny_recipe, progress=False)
    sampling = frame_sampling(teacher, tiny_recipe.data)
    with torch.no_grad():
        frames, patches = teacher.encode_frames(
            tuned.batch(torch.arange(len(records)), sampling)["pixels"]
        )
    torch.testing.assert_close(first.frame_features, frames, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first.patch_features, patches, atol=1e-5, rtol=1e-5)


def test_interrupted_training_resumes(tiny_recipe: Recipe, tmp_path: Path) -> None:
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    tiny_recipe.teacher.transcript_encoder = "clip"  # resumption does not depend on it; faster
    tiny_recipe.teacher.epochs = 3
    full = train_teacher(tiny_recipe, dataset, tmp_path / "full", progress=False)
    tiny_recipe.teacher.epochs = 2  # as if stopped after two epochs
    partial = train_teacher(tiny_recipe, dataset, tmp_path / "resumed", progress=False)
    tiny_recipe.teacher.epochs = 3
    resumed = train_teacher(tiny_recipe, dataset, tmp_path / "resumed", progress=False)
    assert resumed["epochs_run"] == 3 and len(resumed["history"]) == 3
    assert resumed["history"][:2] == partial["history"]  # carried over (timings too), not rerun
    for a, b in zip(full["history"], resumed["history"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["valid_mae"] == pytest.approx(b["valid_mae"], rel=1e-4)
    tiny_recipe.teacher.lambda1 = 0.5  # another configuration starts afresh
    other = train_teacher(tiny_recipe, dataset, tmp_path / "resumed", progress=False)
    assert other["history"][0]["train_loss"] != resumed["history"][0]["train_loss"]
    # the resume point is one atomic folder: weights, optimizer and state together
    assert {"model.safetensors", "optimizer.safetensors", "trainer_state.json"} <= {
        p.name for p in (tmp_path / "resumed" / "last").iterdir()
    }


def test_a_decaying_schedule_never_resumes_with_other_epochs(
    tiny_recipe: Recipe, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    tiny_recipe.teacher.transcript_encoder = "clip"
    tiny_recipe.teacher.schedule = "cosine"
    tiny_recipe.teacher.epochs = 2
    train_teacher(tiny_recipe, dataset, tmp_path / "t", progress=False)
    tiny_recipe.teacher.epochs = 3  # every step's learning rate changes: start afresh
    with caplog.at_level("WARNING"):
        again = train_teacher(tiny_recipe, dataset, tmp_path / "t", progress=False)
    assert "written by another configuration; starting afresh" in caplog.text
    assert len(again["history"]) == 3


def test_paper_scale_vit_b32_builds_from_a_local_folder_and_trains_a_step(
    tiny_recipe: Recipe, tmp_path: Path
) -> None:
    folder = build_random_clip("vit-b-32", tmp_path / "clip-vit-base-patch32")
    tiny_recipe.teacher.checkpoint = str(folder)
    tiny_recipe.data.num_frames = 2
    teacher, tokenizers = build_teacher(tiny_recipe)
    assert teacher.clip.config.vision_config.patch_size == 32
    assert sum(p.numel() for p in teacher.clip.parameters()) > 150e6
    enc = tokenizers.transcripts(["what a great day", "so sad"], padding=True, return_tensors="pt")
    optimizer = torch.optim.AdamW(teacher.parameters(), lr=1e-5)
    before = teacher.clip.vision_model.embeddings.patch_embedding.weight.detach().clone()
    out = teacher(
        enc["input_ids"],
        enc["attention_mask"],
        torch.tensor([True, True]),
        torch.randn(2, 2, 3, 224, 224),
    )
    loss = (out.regression - torch.tensor([2.0, -2.0])).abs().mean() + out.logits.logsumexp(
        -1
    ).mean()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert not torch.equal(before, teacher.clip.vision_model.embeddings.patch_embedding.weight)


def test_pretrained_transcript_encoder_trains_round_trips_and_precomputes_exactly(
    tiny_recipe: Recipe, tmp_path: Path
) -> None:
    tiny_recipe.teacher.transcript_encoder = "minilm"  # the packaged pretrained MiniLM
    tiny_recipe.teacher.freeze_text = True
    tiny_recipe.teacher.epochs = 2
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    train_teacher(tiny_recipe, dataset, tmp_path / "t", progress=False)
    best = tmp_path / "t" / "best"
    assert (best / "transcript_encoder" / "config.json").is_file()

    teacher, tokenizers, _ = load_teacher(best)  # rebuilt from the folder alone
    assert tokenizers.transcripts is tokenizers.transcript_encoder
    records = dataset.split("test")
    frozen = prepare_inputs(teacher, tokenizers, records, tiny_recipe, progress=False)
    assert frozen.text_hidden is not None and frozen.text_hidden.hidden_size == 384
    tiny_recipe.teacher.freeze_text = False  # the encoder runs inside every forward instead
    live = prepare_inputs(teacher, tokenizers, records, tiny_recipe, progress=False)
    assert live.text_hidden is None
    sampling = frame_sampling(teacher, tiny_recipe.data)
    np.testing.assert_allclose(
        run_teacher(teacher, frozen, sampling, 3)[0],
        run_teacher(teacher, live, sampling, 5)[0],
        rtol=0,
        atol=1e-5,
    )

    rows = predict_teacher(best, dataset, tiny_recipe, tmp_path / "pred.csv", progress=False)
    test_rows = [r for r in rows if r["split"] == "test"]
    np.testing.assert_allclose(
        [r["r_T"] for r in test_rows], run_teacher(teacher, live, sampling, 8)[0], atol=1e-5
    )


def test_tuned_transcript_encoder_learns(tiny_recipe: Recipe, tmp_path: Path) -> None:
    tiny_recipe.teacher.transcript_encoder = "minilm"
    tiny_recipe.teacher.freeze_text = False
    tiny_recipe.teacher.epochs = 1
    teacher, _ = build_teacher(tiny_recipe)
    before = teacher.transcript.encoder.embeddings.word_embeddings.weight.detach().clone()
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    train_teacher(tiny_recipe, dataset, tmp_path / "t", progress=False)
    after, _, _ = load_teacher(tmp_path / "t" / "last")
    assert not torch.equal(before, after.transcript.encoder.embeddings.word_embeddings.weight)


def test_video_only_teacher_loads_no_transcript_encoder(tiny_recipe: Recipe) -> None:
    tiny_recipe.teacher.transcript_encoder = "minilm"
    tiny_recipe.teacher.inputs = "video"
    teacher, tokenizers = build_teacher(tiny_recipe)
    assert teacher.transcript is None and tokenizers.transcript_encoder is None


def test_the_random_clip_is_drawn_from_the_run_seed(tiny_recipe: Recipe) -> None:
    weights = {}
    for seed in (1, 2, 1):
        tiny_recipe.seed = seed
        teacher, _ = build_teacher(tiny_recipe)
        weights.setdefault(seed, []).append(
            teacher.clip.vision_model.embeddings.patch_embedding.weight
        )
    assert torch.equal(weights[1][0], weights[1][1])  # the same seed, the same tower
    assert not torch.equal(weights[1][0], weights[2][0])  # seeds mean seeds


def test_a_nan_teacher_loss_stops_training_naming_epoch_and_step(
    tiny_recipe: Recipe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import videoadviser.teacher.trainer as trainer
    from videoadviser.errors import TrainingError

    calls = {"n": 0}
    real_loss = trainer.teacher_loss

    def loss_that_diverges(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        loss, parts = real_loss(*args, **kwargs)
        return (loss * float("inf") if calls["n"] == 4 else loss), parts

    monkeypatch.setattr(trainer, "teacher_loss", loss_that_diverges)
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    out = tmp_path / "teacher"
    with pytest.raises(TrainingError, match=r"the training loss is (inf|nan) at epoch 2, step 1"):
        train_teacher(tiny_recipe, dataset, out, progress=False)
    assert (out / "best").is_dir() and not (out / "metrics.json").exists()


def test_every_trainable_teacher_parameter_gets_a_gradient(tiny_recipe: Recipe) -> None:
    """DDP waits for a gradient of every trainable parameter: none may sit unused."""
    from videoadviser.distillation.losses import teacher_loss
    from videoadviser.teacher.trainer import _forward

    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    teacher, tokenizers = build_teacher(tiny_recipe)
    inputs = prepare_inputs(teacher, tokenizers, dataset.split("train")[:4], tiny_recipe, False)
    batch = inputs.batch(torch.arange(4), frame_sampling(teacher, tiny_recipe.data))
    out = _forward(teacher.train(), batch)
    loss, _ = teacher_loss(out.logits, out.regression, batch["labels"], 1.0)
    loss.backward()
    unused = [n for n, p in teacher.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []
    assert not teacher.clip.logit_scale.requires_grad  # CLIP's own temperature is not used


def test_values_its_transcript_encoder_decides_are_refused_before_any_work(
    tiny_recipe: Recipe, tmp_path: Path
) -> None:
    from transformers import AutoConfig, AutoTokenizer

    from videoadviser.config import load_recipe_and_source
    from videoadviser.errors import ConfigError
    from videoadviser.pretrained import minilm_path
    from videoadviser.teacher.trainer import check_teacher_checkpoints

    # issue 24 (re-probe): a ValueError from the model, after the data was read
    recipe, source = load_recipe_and_source("demo", ["teacher.transcript_tuned_layers=99"])
    with pytest.raises(ConfigError) as error:
        check_teacher_checkpoints(recipe, source)
    assert str(error.value) == (
        "--set teacher.transcript_tuned_layers=99: teacher.transcript_tuned_layers = 99 is out "
        "of range; allowed: 0 to 6 (the transcript encoder 'minilm' has 6 layers). Give another "
        "value with --set"
    )
    dataset = load_dataset(tiny_recipe.data.path, progress=False)
    tiny_recipe.teacher.transcript_tuned_layers = 7  # a recipe built in Python: told in Python
    out = tmp_path / "teacher"
    with pytest.raises(ConfigError, match=r"Set recipe.teacher.transcript_tuned_layers = VALUE"):
        train_teacher(tiny_recipe, dataset, out, progress=False)
    assert not out.exists()  # nothing written, not even tensorboard/
    tiny_recipe.teacher.inputs = "video"  # reads no transcript: nothing to check
    check_teacher_checkpoints(tiny_recipe)
    # an encoder whose layers cannot run in two parts takes 0 tuned layers only
    folder = tmp_path / "distilbert"
    AutoConfig.for_model("distilbert", n_layers=2, dim=32, hidden_dim=64).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    tiny_recipe.teacher.inputs, tiny_recipe.teacher.transcript_encoder = "both", str(folder)
    tiny_recipe.teacher.transcript_tuned_layers = 1
    with pytest.raises(ConfigError, match=r"allowed: 0 for the transcript encoder .* 'distilbert'"):
        check_teacher_checkpoints(tiny_recipe)
    tiny_recipe.teacher.transcript_tuned_layers = 0
    tiny_recipe.teacher.max_text_length = 2  # no room for text: its tokenizer would cut nothing
    with pytest.raises(ConfigError, match=r"max_text_length = 2 is out of range; allowed: >= 3"):
        check_teacher_checkpoints(tiny_recipe)


def test_a_predictions_file_a_command_names_itself_is_named_by_its_path_not_out(
    tmp_path: Path,
) -> None:
    # issue 24 re-probe: `run` refused a user's seed_*/teacher_predictions.csv as "--out ..."
    mine = tmp_path / "seed_1" / "teacher_predictions.csv"
    mine.parent.mkdir()
    mine.write_text("my,own\n1,2\n")
    with pytest.raises(ConfigError) as refused:
        predict_teacher(tmp_path / "none", None, None, mine)  # type: ignore[arg-type]
    assert str(refused.value).startswith(f"{mine}: exists and is not a file videoadviser wrote")
    assert "--out" not in str(refused.value)
    assert mine.read_text() == "my,own\n1,2\n"
