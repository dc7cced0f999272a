"""Train, save, load and run the teacher (``videoadviser teacher train``; prediction files:
:mod:`videoadviser.teacher.predict`).

One loop a reader can follow top to bottom: build the teacher from the recipe's CLIP
checkpoint, turn records into tensors (frames decoded once, or frozen-tower features from the
disk cache), train with the step-1 loss, select on validation MAE only, stop early, save the
best checkpoint (safetensors + JSON + tokenizer) and the metrics of every split.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModel,
    AutoTokenizer,
    CLIPConfig,
    CLIPModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from videoadviser import __version__
from videoadviser.config import (
    IN_PYTHON,
    DataConfig,
    Recipe,
    Source,
    TeacherConfig,
    range_error,
    validate_recipe,
)
from videoadviser.data.clips import ClipFrames, decode_into_cache
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.frames import FrameSampling, normalize_pixels
from videoadviser.data.records import SPLITS, ClipRecord
from videoadviser.data.tokens import length_range, tokenize
from videoadviser.data.unlabelled import UNLABELLED
from videoadviser.distillation.losses import teacher_loss
from videoadviser.errors import ConfigError
from videoadviser.evaluation.metrics import finite_metrics
from videoadviser.pretrained import resolve_text_checkpoint, text_encoder_files
from videoadviser.teacher.clip_checkpoint import resolve_checkpoint
from videoadviser.teacher.features import (
    TranscriptStates,
    cached_frame_features,
    cached_transcript_states,
    state_fingerprint,
    weights_fingerprint,
)
from videoadviser.teacher.model import (
    LAYERED_ENCODERS,
    TeacherArchitecture,
    VideoAdviserTeacher,
    class_names,
    encoder_layers,
)
from videoadviser.utils.checkpoint import (
    load_checkpoint,
    load_optimizer,
    load_tensors,
    optimizer_to_tensors,
    save_checkpoint,
)
from videoadviser.utils.engine import (
    Selection,
    StepSchedule,
    check_finite,
    clip_gradients,
    kept,
    mean_parts,
    recover_checkpoints,
    restore_rng,
    rng_tensors,
)
from videoadviser.utils.io import (
    check_output_file,
    csv_header,
    read_json,
    to_jsonable,
    write_csv,
    write_json,
)
from videoadviser.utils.ownership import TEACHER_CHECKPOINT
from videoadviser.utils.runtime import (
    autocast,
    close_trackers,
    main_process_first,
    make_accelerator,
    make_optimizer,
    resolve_precision,
    run_on_main,
    seed_everything,
)

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "teacher_predictions.csv"
TRAINER_STATE_FILE = "trainer_state.json"  # in last/: the resume point
# data settings that say where the data is and how it is read, not what training sees
DATA_LOGISTICS = ("path", "raw_root", "make_demo", "unlabelled", "unlabelled_limit",
                  "demo_unlabelled", "demo_profile", "num_workers")  # fmt: skip
PREDICT_BATCH_SIZE = 64  # clips per forward pass when predicting
TRANSCRIPT_ENCODER_DIR = "transcript_encoder"  # in a checkpoint: the encoder's config + tokenizer
CLIP_SPECIAL_TOKENS = 2  # what CLIP's tokenizer adds to a text: its start and end tokens


def check_teacher_checkpoints(recipe: Recipe, source: Source | None = None) -> None:
    """The teacher values whose range depends on what reads its transcripts, checked before
    any work from the transcript encoder's config and tokenizer alone (no weights):
    ``transcript_tuned_layers`` (at most the encoder's layers, and only for an encoder whose
    layers can run in two parts, :data:`LAYERED_ENCODERS`) and ``max_text_length`` (room for
    one token besides the special tokens the tokenizer adds: below that a tokenizer cuts
    nothing; above what the encoder reads it is capped,
    :func:`transcript_max_length`). A video-only teacher reads no transcript.

    Raises:
        ConfigError: naming the key, its value, the range this encoder allows and where the
            value came from (``source``: the recipe file or ``--set``; default: a recipe built
            in Python).
    """
    source = source or Source(IN_PYTHON)
    cfg = recipe.teacher
    if cfg.inputs == "video":
        return
    special = CLIP_SPECIAL_TOKENS
    if cfg.transcript_encoder != "clip":
        key = "teacher.transcript_encoder"
        config, tokenizer = text_encoder_files(cfg.transcript_encoder, key)
        special = length_range(tokenizer, None)[0] - 1
        name, tuned = cfg.transcript_encoder, cfg.transcript_tuned_layers
        layers, kind = getattr(config, "num_hidden_layers", 0), config.model_type
        if tuned and kind not in LAYERED_ENCODERS:
            raise range_error(
                source,
                "teacher.transcript_tuned_layers",
                tuned,
                f"0 for the transcript encoder {name!r}: it is a {kind!r} model, and only the "
                "layers of one whose forward is its embeddings then its layers can be tuned "
                f"alone ({', '.join(sorted(LAYERED_ENCODERS))})",
            )
        if tuned > layers:
            raise range_error(
                source,
                "teacher.transcript_tuned_layers",
                tuned,
                f"0 to {layers} (the transcript encoder {name!r} has {layers} layers)",
            )
    if cfg.max_text_length <= special:
        raise range_error(
            source,
            "teacher.max_text_length",
            cfg.max_text_length,
            f">= {special + 1} (the transcript tokenizer adds {special} special tokens to each "
            "text: leave room for one of text; a limit above what the encoder reads is capped "
            "to that)",
        )


# -- building ----------------------------------------------------------------------------------
def architecture(cfg: TeacherConfig, data: DataConfig) -> TeacherArchitecture:
    return TeacherArchitecture(
        num_frames=data.num_frames,
        num_classes=cfg.num_classes,
        use_video=cfg.inputs in ("both", "video"),
        use_text=cfg.inputs in ("both", "transcript"),
        prompt_enhancement=cfg.prompt_enhancement,
        temporal_layers=cfg.temporal_layers,
        cross_layers=cfg.cross_layers,
        alpha_init=cfg.alpha_init,
        head=cfg.head,
        prompt_template=cfg.prompt_template,
        # a video-only teacher never loads a transcript encoder
        transcript_encoder=cfg.transcript_encoder if cfg.inputs != "video" else "clip",
        transcript_tuned_layers=cfg.transcript_tuned_layers if cfg.inputs != "video" else 0,
        transcript_pooling=cfg.transcript_pooling if cfg.inputs != "video" else "mean",
        fusion=cfg.fusion,
    )


def _tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, what: str
) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenize(tokenizer, texts, max_length, what, padding="max_length", return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


@dataclass
class TeacherTokenizers:
    """CLIP's tokenizer (class prompts) and the transcript encoder's (``None``: CLIP's too)."""

    clip: PreTrainedTokenizerBase
    transcript_encoder: PreTrainedTokenizerBase | None = None

    @property
    def transcripts(self) -> PreTrainedTokenizerBase:
        return self.transcript_encoder or self.clip

    def save(self, folder: Path) -> None:
        self.clip.save_pretrained(folder)
        if self.transcript_encoder is not None:
            self.transcript_encoder.save_pretrained(folder / TRANSCRIPT_ENCODER_DIR)


def assemble_teacher(
    clip: CLIPModel,
    tokenizers: TeacherTokenizers,
    arch: TeacherArchitecture,
    transcript_encoder: PreTrainedModel | None = None,
    names: list[str] | None = None,
    pad_prompts_to_longest: bool = False,
) -> VideoAdviserTeacher:
    """A teacher on ``clip`` whose K class prompts are ``arch.prompt_template`` filled with
    ``names`` (default: the sentiment classes, :func:`class_names`).

    Prompts are padded to the text tower's full length unless ``pad_prompts_to_longest`` (the
    pooled EOS embedding is the same under CLIP's causal mask, and the text tower then costs a
    fraction: a few tokens instead of 77 per prompt and step)."""
    names = names if names is not None else class_names(arch.num_classes)
    if len(names) != arch.num_classes:
        raise ValueError(f"{len(names)} class names for {arch.num_classes} classes")
    prompts = [arch.prompt_template.format(name) for name in names]
    limit = clip.config.text_config.max_position_embeddings
    if pad_prompts_to_longest:
        enc = tokenize(
            tokenizers.clip, prompts, limit, "class prompts", padding="longest", return_tensors="pt"
        )
        ids, mask = enc["input_ids"], enc["attention_mask"]
    else:
        ids, mask = _tokenize(tokenizers.clip, prompts, limit, "class prompts")
    return VideoAdviserTeacher(clip, arch, ids, mask, transcript_encoder)


def _load_transcript_encoder(
    checkpoint: str,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    source = resolve_text_checkpoint(checkpoint)
    try:
        return AutoModel.from_pretrained(source), AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"teacher.transcript_encoder {checkpoint!r}: cannot load a text encoder ({error})"
        ) from None


def load_clip(
    checkpoint: str, cache_dir: str | Path, seed: int
) -> tuple[CLIPModel, TeacherTokenizers]:
    """A CLIP model and its tokenizer from ``teacher.checkpoint`` (hub id, local folder or
    ``random:<arch>``, drawn from ``seed``: seeds mean seeds)."""
    source = resolve_checkpoint(checkpoint, Path(cache_dir) / "checkpoints", seed=seed)
    try:
        return CLIPModel.from_pretrained(source), TeacherTokenizers(
            AutoTokenizer.from_pretrained(source)
        )
    except OSError as error:
        raise ConfigError(
            f"teacher.checkpoint {checkpoint!r}: cannot load a CLIP model ({error})"
        ) from None


def build_teacher(recipe: Recipe) -> tuple[VideoAdviserTeacher, TeacherTokenizers]:
    """A fresh teacher on the recipe's CLIP checkpoint (hub id, folder or ``random:<arch>``)."""
    cfg = recipe.teacher
    clip, tokenizers = load_clip(cfg.checkpoint, recipe.cache_dir, recipe.seed)
    arch = architecture(cfg, recipe.data)
    encoder = None
    if arch.transcript_encoder != "clip":
        encoder, tokenizers.transcript_encoder = _load_transcript_encoder(cfg.transcript_encoder)
    teacher = assemble_teacher(clip, tokenizers, arch, encoder)
    for module in (clip.vision_model, clip.visual_projection):
        module.requires_grad_(not cfg.freeze_vision)
    for module in (clip.text_model, clip.text_projection):
        module.requires_grad_(not cfg.freeze_text)
    if encoder is not None:
        encoder.requires_grad_(not cfg.freeze_text and not arch.transcript_tuned_layers)
        if arch.transcript_tuned_layers:
            tuned = encoder_layers(encoder)[-arch.transcript_tuned_layers :]
            tuned.requires_grad_(True)
    return teacher, tokenizers


def fold_tuned_layers(
    teacher: VideoAdviserTeacher,
    splits: dict[str, TeacherInputs],
    cache_dir: str | Path,
    progress: bool = True,
) -> None:
    """After the transcript warm-up the tuned layers are frozen: cache every transcript's
    final states (keyed by the whole encoder's weights) in place of the states below the
    tuned layers, so later epochs no longer run them. The teacher's ``transcript.folded`` is
    set; a checkpoint is unaffected (loaded, it runs the tuned layers again)."""
    encoder = teacher.transcript
    assert encoder is not None and encoder.tuned_layers > 0
    device = next(teacher.parameters()).device
    fingerprint = weights_fingerprint([encoder.encoder])

    def final_states(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        ids, mask = ids.to(device), mask.to(device)
        return encoder.top(encoder.hidden(ids, mask), mask)

    was_training = teacher.training
    teacher.eval()
    with main_process_first():
        for inputs in splits.values():
            inputs.text_hidden = cached_transcript_states(
                final_states,
                fingerprint,
                encoder.encoder.config.hidden_size,
                inputs.text_ids,
                inputs.text_mask,
                cache_dir,
                progress=progress,
            )
    teacher.train(was_training)
    encoder.folded = True


def transcript_states_cached(teacher: VideoAdviserTeacher, cfg: TeacherConfig) -> bool:
    """Whether the transcript encoder's :meth:`~TranscriptEncoder.hidden` part is frozen, so
    its states are computed once and read from the cache."""
    encoder = teacher.transcript
    return (
        teacher.arch.use_text
        and encoder is not None
        and (cfg.freeze_text or encoder.tuned_layers > 0)
    )


def earliest_stop(cfg: TeacherConfig, arch: TeacherArchitecture) -> int:
    """The first epoch early stopping may stop at: for a teacher that reads video, not before
    ``min_epochs`` (a from-scratch vision tower plateaus first) nor before the transcripts had
    ``patience`` epochs after the warm-up and video-first ones (a video-only teacher keeps the
    two-input teacher's rule, so the ablation compares them under one protocol); a
    transcript-only teacher has no reason to wait."""
    if not arch.use_video:
        return 0
    if not arch.use_text:
        return max(cfg.min_epochs, cfg.video_first_epochs + cfg.patience)
    return max(cfg.min_epochs, cfg.transcript_warmup_epochs + cfg.video_first_epochs + cfg.patience)


def learning_rate(name: str, cfg: TeacherConfig) -> float:
    """A teacher parameter's rate: ``transcript_lr`` for a pretrained transcript encoder's
    ``transcript_tuned_layers``, ``tower_lr`` for the other pretrained towers (the CLIP towers,
    a wholly tuned transcript encoder), ``lr`` for the teacher's own modules."""
    if name.startswith("transcript.encoder.") and cfg.transcript_tuned_layers:
        return cfg.transcript_lr
    return cfg.tower_lr if name.startswith(("clip.", "transcript.encoder.")) else cfg.lr


def frame_sampling(teacher: VideoAdviserTeacher, data: DataConfig) -> FrameSampling:
    return FrameSampling(
        num_frames=data.num_frames, image_size=teacher.clip.config.vision_config.image_size
    )


# -- inputs ------------------------------------------------------------------------------------
@dataclass
class TeacherInputs:
    """Everything the teacher reads for N clips; what grows with N stays on disk.

    ``frames``: the decoded clips (read a batch at a time from the frame cache) when the
    vision tower is tuned; ``frame_features`` (N, T, E) and ``patch_features`` (N, P, E)
    when it is frozen; neither for a transcript-only teacher. ``text_hidden``: a frozen
    non-CLIP transcript encoder's token states, from its cache.
    """

    records: list[ClipRecord]
    labels: torch.Tensor
    text_ids: torch.Tensor
    text_mask: torch.Tensor
    video_mask: torch.Tensor
    frames: ClipFrames | None = None
    frame_features: torch.Tensor | None = None
    patch_features: torch.Tensor | None = None
    text_hidden: TranscriptStates | None = None

    def __len__(self) -> int:
        return len(self.records)

    def batch(self, index: torch.Tensor, sampling: FrameSampling) -> dict[str, torch.Tensor]:
        """Tensors for the clips at ``index``; transcripts trimmed to the longest in the batch."""
        mask = self.text_mask[index]
        length = int(mask.sum(1).max())
        out = {
            "text_ids": self.text_ids[index, :length],
            "text_mask": mask[:, :length],
            "video_mask": self.video_mask[index],
            "labels": self.labels[index],
        }
        if self.frames is not None:
            out["pixels"] = normalize_pixels(torch.from_numpy(self.frames.read(index)), sampling)
        if self.frame_features is not None and self.patch_features is not None:
            out["frame_features"] = self.frame_features[index]
            out["patch_features"] = self.patch_features[index]
        if self.text_hidden is not None:
            out["text_hidden"] = self.text_hidden.read(index, length)
        return out


def transcript_max_length(
    teacher: VideoAdviserTeacher, tokenizers: TeacherTokenizers, cfg: TeacherConfig
) -> int:
    """Transcript tokens kept: the recipe's limit, capped by what the encoder can take."""
    if teacher.transcript is None:
        return min(cfg.max_text_length, teacher.clip.config.text_config.max_position_embeddings)
    return min(cfg.max_text_length, tokenizers.transcripts.model_max_length)


def prepare_inputs(
    teacher: VideoAdviserTeacher,
    tokenizers: TeacherTokenizers,
    records: list[ClipRecord],
    recipe: Recipe,
    progress: bool = True,
) -> TeacherInputs:
    cfg, data = recipe.teacher, recipe.data
    max_length = transcript_max_length(teacher, tokenizers, cfg)
    texts = [r.text for r in records]
    ids, mask = _tokenize(tokenizers.transcripts, texts, max_length, "teacher transcripts")
    inputs = TeacherInputs(
        records=records,
        labels=torch.tensor([r.label for r in records], dtype=torch.float32),
        text_ids=ids,
        text_mask=mask,
        video_mask=torch.zeros(len(records), dtype=torch.bool),
    )
    device = next(teacher.parameters()).device
    was_training = teacher.training
    teacher.eval()  # frozen towers fill the caches in eval mode
    with main_process_first():  # one process fills the caches; the others read them
        if transcript_states_cached(teacher, cfg):
            encoder = teacher.transcript
            assert encoder is not None
            fingerprint = weights_fingerprint([encoder.encoder])
            if encoder.tuned_layers:  # the states entering the tuned layers, by what makes them
                fingerprint = state_fingerprint(encoder.frozen_part(), f"below {encoder.split}")
            inputs.text_hidden = cached_transcript_states(
                lambda i, m: encoder.hidden(i.to(device), m.to(device)),
                fingerprint,
                encoder.encoder.config.hidden_size,
                ids,
                mask,
                recipe.cache_dir,
                progress=progress,
            )
        if teacher.arch.use_video:
            sampling = frame_sampling(teacher, data)
            if cfg.freeze_vision:
                frames, patches, has_video = cached_frame_features(
                    records,
                    lambda pixels: teacher.encode_frames(pixels.to(device)),
                    weights_fingerprint(
                        [teacher.clip.vision_model, teacher.clip.visual_projection]
                    ),
                    sampling,
                    recipe.cache_dir,
                    data.video_policy,
                    progress=progress,
                    workers=data.num_workers,
                )
                inputs.frame_features, inputs.patch_features = frames, patches
            else:
                inputs.frames = decode_into_cache(
                    records,
                    recipe.cache_dir,
                    sampling.num_frames,
                    sampling.image_size,
                    data.video_policy,
                    data.num_workers,
                    progress=progress,
                )
                has_video = inputs.frames.has_video
            inputs.video_mask = torch.from_numpy(has_video)
    teacher.train(was_training)
    return inputs


# -- training ----------------------------------------------------------------------------------
def _batches(n: int, batch_size: int, shuffle_seed: int | None) -> DataLoader:
    order = list(range(n))
    if shuffle_seed is not None:
        generator = torch.Generator().manual_seed(shuffle_seed)
        order = torch.randperm(n, generator=generator).tolist()
    return DataLoader(order, batch_size=batch_size, shuffle=False, collate_fn=torch.tensor)


def transcript_keep(
    cfg: TeacherConfig, epoch: int, video_mask: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Which transcripts a training batch shows: ``(B,)`` bool from ``video_mask`` ``(B,)``.

    Modality dropout: each transcript is hidden with probability ``transcript_dropout``, or
    always during the ``video_first_epochs`` (after the ``transcript_warmup_epochs``, which
    show every transcript); a clip without video always keeps its transcript (never hide the
    only modality).
    """
    warmup = cfg.transcript_warmup_epochs
    if epoch < warmup:
        return torch.ones(len(video_mask), dtype=torch.bool)
    hide = 1.0 if epoch < warmup + cfg.video_first_epochs else cfg.transcript_dropout
    drop = torch.rand(len(video_mask), generator=generator) < hide
    return ~(drop & video_mask.bool())


def video_keep(
    cfg: TeacherConfig,
    epoch: int,
    video_mask: torch.Tensor,
    transcript_shown: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Which clips' video a training batch shows: ``(B,)`` bool.

    Modality dropout on the other side: during the ``transcript_warmup_epochs`` no video is
    shown; after the video-first epochs the video of each clip whose transcript is shown is
    hidden with probability ``video_dropout`` (never the only modality); clips without usable
    video stay without it.
    """
    warmup = cfg.transcript_warmup_epochs
    if epoch < warmup:
        return video_mask.bool() & ~transcript_shown.bool()
    if epoch < warmup + cfg.video_first_epochs or cfg.video_dropout == 0:
        return video_mask.bool()
    drop = torch.rand(len(video_mask), generator=generator) < cfg.video_dropout
    return video_mask.bool() & ~(drop & transcript_shown.bool())


def _forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Any:
    kwargs = {k: v for k, v in batch.items() if k != "labels"}
    return model(**kwargs)


@torch.no_grad()
def run_teacher(
    model: torch.nn.Module,
    inputs: TeacherInputs,
    sampling: FrameSampling,
    batch_size: int,
    accelerator: Any = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher outputs for every clip, in order: r_T ``(N,)`` and logits ``(N, K)``."""
    model.eval()
    device = accelerator.device if accelerator is not None else next(model.parameters()).device
    loader = _batches(len(inputs), batch_size, None)
    if accelerator is not None:
        loader = accelerator.prepare(loader)
    regressions, logits, order = [], [], []
    for index in tqdm(loader, desc="teacher predict", leave=False, disable=not progress):
        batch = {k: v.to(device) for k, v in inputs.batch(index.cpu(), sampling).items()}
        out = _forward(model, batch)
        reg, log, idx = out.regression.float(), out.logits.float(), index.to(device)
        if accelerator is not None:
            reg, log, idx = accelerator.gather_for_metrics((reg, log, idx))
        regressions.append(reg.cpu())
        logits.append(log.cpu())
        order.append(idx.cpu())
    order_t = torch.cat(order)
    reg_all = torch.empty(len(inputs))
    log_all = torch.empty(len(inputs), logits[0].shape[1])
    reg_all[order_t] = torch.cat(regressions)
    log_all[order_t] = torch.cat(logits)
    return reg_all.numpy(), log_all.numpy()


def checkpoint_config(
    teacher: VideoAdviserTeacher, recipe: Recipe, sampling: FrameSampling
) -> dict[str, Any]:
    return {
        "kind": "videoadviser-teacher",
        "version": __version__,
        "teacher": asdict(recipe.teacher),
        "data": asdict(recipe.data),
        "architecture": asdict(teacher.arch),
        "clip_config": teacher.clip.config.to_dict(),
        "sampling": asdict(sampling),
    }


def save_teacher(
    folder: Path,
    teacher: VideoAdviserTeacher,
    tokenizers: TeacherTokenizers,
    config: dict[str, Any],
    trainer_state: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Weights (safetensors), config JSON, CLIP tokenizer; the transcript encoder's config and
    tokenizer in ``transcript_encoder/`` when there is one, so the folder rebuilds alone.
    ``trainer_state`` (a resume point) goes into the same folder, written in the same atomic
    step as the weights, so a kill can never leave weights and state from different epochs."""

    def write_extra(staged: Path) -> None:
        if trainer_state is not None:
            write_json(staged / TRAINER_STATE_FILE, trainer_state)
        tokenizers.save(staged)
        if teacher.transcript is not None:
            teacher.transcript.encoder.config.save_pretrained(staged / TRANSCRIPT_ENCODER_DIR)

    save_checkpoint(
        folder, teacher.state_dict(), config, extra=write_extra, kind=TEACHER_CHECKPOINT, **extra
    )


def load_teacher(
    folder: str | Path,
) -> tuple[VideoAdviserTeacher, TeacherTokenizers, dict[str, Any]]:
    """Rebuild a saved teacher (weights, architecture, tokenizers) from its folder alone."""
    folder = Path(folder)
    state, config = load_checkpoint(folder)
    if config.get("kind") != "videoadviser-teacher":
        raise ConfigError(
            f"{folder}: not a teacher checkpoint (config.json kind is {config.get('kind')!r})"
        )
    clip = CLIPModel(CLIPConfig.from_dict(config["clip_config"]))
    arch = TeacherArchitecture(**config["architecture"])
    tokenizers = TeacherTokenizers(AutoTokenizer.from_pretrained(str(folder)))
    encoder = None
    if arch.transcript_encoder != "clip":
        encoder_dir = folder / TRANSCRIPT_ENCODER_DIR
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(encoder_dir))
        tokenizers.transcript_encoder = AutoTokenizer.from_pretrained(encoder_dir)
    teacher = assemble_teacher(clip, tokenizers, arch, encoder)
    teacher.load_state_dict(state, strict=True)
    teacher.eval()
    return teacher, tokenizers, config


def saved_settings(config: dict[str, Any]) -> tuple[Recipe, FrameSampling]:
    """The teacher and data sections a saved teacher was trained with (``config`` from
    :func:`load_teacher`), and its frame sampling: what reading new clips for it needs."""
    recipe = Recipe(teacher=TeacherConfig(**config["teacher"]), data=DataConfig(**config["data"]))
    sampling = FrameSampling(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in config["sampling"].items()}
    )
    return recipe, sampling


def _resumable(saved: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """A run may continue another made by the same configuration. Only the number of epochs
    may differ, and only with a constant schedule: a decaying one is laid out over
    ``epochs`` from the start, so more epochs would change every step's learning rate."""

    def strip(config: dict[str, Any]) -> dict[str, Any]:
        # where the data lives and how it is read do not shape training
        data = {k: v for k, v in config.get("data", {}).items() if k not in DATA_LOGISTICS}
        config = {**config, "data": data}
        if config["teacher"].get("schedule", "constant") != "constant":
            return config
        return {**config, "teacher": {k: v for k, v in config["teacher"].items() if k != "epochs"}}

    # the saved one went through JSON (tuples came back as lists): compare like with like
    current = to_jsonable(current)
    return saved is not None and strip(saved) == strip(current)


def train_teacher(
    recipe: Recipe,
    dataset: SentimentDataset,
    out_dir: str | Path,
    progress: bool = True,
    resume: bool = True,
    predictions_file: str | Path | None = None,
) -> dict[str, Any]:
    """Train the teacher; write ``best/`` (checkpoint), ``metrics.json`` and ``history.csv``.

    With ``resume`` a run interrupted after some epochs continues from ``last/``. With
    ``predictions_file`` the best teacher's outputs for every clip, computed for the metrics
    anyway, are also written there (what :func:`predict_teacher` writes).

    Returns:
        ``{"metrics": {split: MMSA metrics}, "best_epoch": int, "epochs_run": int, ...}``.
    """
    validate_recipe(recipe)  # every value, before any work
    check_teacher_checkpoints(recipe)
    cfg = recipe.teacher
    out_dir = Path(out_dir)
    seed_everything(recipe.seed)
    # the transcript path sits out the video-only epochs: DDP must not wait for its gradients
    precision = resolve_precision(cfg.mixed_precision)
    accelerator = make_accelerator(find_unused_parameters=True, log_dir=out_dir)
    teacher, tokenizers = build_teacher(recipe)
    teacher.to(accelerator.device)  # frozen-tower caches are filled on the training device
    sampling = frame_sampling(teacher, recipe.data)
    splits = {
        s: prepare_inputs(teacher, tokenizers, dataset.split(s), recipe, progress) for s in SPLITS
    }
    config = checkpoint_config(teacher, recipe, sampling)
    # filling a cache may draw from the global generator (a DataLoader draws its workers'
    # seed), so training starts from one random state whether the caches existed or not
    seed_everything(recipe.seed)

    rates: dict[float, list[torch.nn.Parameter]] = {cfg.lr: []}  # own modules' group first
    for name, parameter in teacher.named_parameters():
        if parameter.requires_grad:
            rates.setdefault(learning_rate(name, cfg), []).append(parameter)
    groups = [{"params": params, "lr": lr} for lr, params in rates.items() if params]
    optimizer = make_optimizer(groups, cfg.weight_decay, accelerator.device)
    steps_per_epoch = math.ceil(len(splits["train"]) / (cfg.batch_size * accelerator.num_processes))
    total_steps = cfg.epochs * steps_per_epoch
    schedule = StepSchedule(
        optimizer, cfg.schedule, total_steps, round(cfg.warmup_epochs * steps_per_epoch)
    )
    selection = Selection(cfg.patience, earliest_stop=earliest_stop(cfg, teacher.arch))

    state = {"epoch": 0, "best_mae": math.inf, "best_epoch": -1, "bad_epochs": 0, "history": []}
    last = out_dir / "last"
    recover_checkpoints(out_dir, accelerator)  # a kill mid-checkpoint may have left one aside
    if resume and (last / TRAINER_STATE_FILE).is_file():
        saved = read_json(last / TRAINER_STATE_FILE)
        if _resumable(saved.get("config"), config) and load_optimizer(
            optimizer, last, saved["optimizer"]
        ):
            teacher.load_state_dict(load_tensors(last / "model.safetensors"))
            state = saved["state"]
            for key in ("best_mae", "best_epoch", "bad_epochs"):
                setattr(selection, key, state[key])
            if (last / "rng.safetensors").is_file():  # dropout continues as uninterrupted
                restore_rng(load_tensors(last / "rng.safetensors"))
            logger.info("resuming teacher training after epoch %d", state["epoch"])
        else:
            logger.warning("%s was written by another configuration; starting afresh", last)

    model, optimizer = accelerator.prepare(teacher, optimizer)
    train, valid = splits["train"], splits["valid"]
    stage = f"teacher ({out_dir})"
    epochs = tqdm(
        range(state["epoch"], cfg.epochs), desc="teacher", unit="epoch", disable=not progress
    )
    for epoch in epochs:
        if selection.should_stop(epoch):
            break
        model.train()
        warmup = cfg.transcript_warmup_epochs
        if teacher.transcript is not None:  # tuned layers learn in the warm-up, if there is one
            teacher.transcript.tune_top = epoch < warmup or not warmup
            tuned = teacher.transcript.tuned_layers > 0 and warmup > 0
            if tuned and epoch >= warmup and not teacher.transcript.folded:
                fold_tuned_layers(teacher, splits, recipe.cache_dir, progress)
        started, losses, parts = time.perf_counter(), [], []
        loader = accelerator.prepare(
            _batches(len(train), cfg.batch_size, recipe.seed * 1000 + epoch)
        )
        dropout_rng = torch.Generator().manual_seed(recipe.seed * 1000 + epoch + 1)
        schedule.step = epoch * steps_per_epoch
        for step, index in enumerate(
            tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress), 1
        ):
            schedule.advance()
            tensors = train.batch(index.cpu(), sampling)
            batch = {k: v.to(accelerator.device) for k, v in tensors.items()}
            if teacher.arch.use_video and teacher.arch.use_text:
                keep = transcript_keep(cfg, epoch, tensors["video_mask"], dropout_rng)
                batch["transcript_mask"] = keep.to(accelerator.device)
                shown = video_keep(cfg, epoch, tensors["video_mask"], keep, dropout_rng)
                batch["video_mask"] = shown.to(accelerator.device)
            with autocast(precision, accelerator.device):
                out = _forward(model, batch)
                loss, loss_parts = teacher_loss(
                    out.logits.float(), out.regression.float(), batch["labels"], cfg.lambda1
                )
            losses.append(loss.item())
            parts.append(loss_parts)
            check_finite(
                losses[-1],
                "the training loss",
                stage,
                epoch + 1,
                step,
                kept(out_dir, selection.best_epoch),
            )
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            clip_gradients(accelerator, model, cfg.grad_clip)
            optimizer.step()
        predictions, _ = run_teacher(model, valid, sampling, cfg.batch_size * 2, accelerator)
        valid_mae = float(np.mean(np.abs(predictions - valid.labels.numpy())))
        check_finite(
            valid_mae,
            "the validation MAE",
            stage,
            epoch + 1,
            step,
            kept(out_dir, selection.best_epoch),
        )
        state["epoch"] = epoch + 1
        state["history"].append(
            {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                **mean_parts(parts),
                "valid_mae": valid_mae,
                "seconds": time.perf_counter() - started,
            }
        )
        if selection.update(epoch + 1, valid_mae) and accelerator.is_main_process:
            save_teacher(out_dir / "best", accelerator.unwrap_model(model), tokenizers, config)
        state.update(selection.as_dict())
        row = state["history"][-1]
        scalars = {"valid/mae": valid_mae, "train/loss": row["train_loss"]}
        scalars.update({f"train/{k}": v for k, v in row.items() if k.startswith("loss_")})
        accelerator.log({**scalars, "lr": optimizer.param_groups[0]["lr"]}, step=epoch + 1)
        if accelerator.is_main_process:
            opt_tensors, opt_meta = optimizer_to_tensors(optimizer)
            save_teacher(
                last,
                accelerator.unwrap_model(model),
                tokenizers,
                config,
                trainer_state={"config": config, "state": state, "optimizer": opt_meta},
                other_tensors={"optimizer": opt_tensors, "rng": rng_tensors()},
            )
        epochs.set_postfix(
            loss=f"{np.mean(losses):.3f}",
            valid_mae=f"{valid_mae:.3f}",
            best=f"{state['best_mae']:.3f}",
        )
    close_trackers(accelerator)
    accelerator.wait_for_everyone()

    best, _, _ = load_teacher(out_dir / "best")
    best = best.to(accelerator.device)
    if teacher.transcript is not None and teacher.transcript.folded:  # the saved teacher runs
        splits = {  # its tuned layers itself: give it the states below them again
            s: prepare_inputs(best, tokenizers, dataset.split(s), recipe, progress) for s in SPLITS
        }
    metrics, rows = {}, []
    for split, inputs in splits.items():
        regression, logits = run_teacher(best, inputs, sampling, PREDICT_BATCH_SIZE)
        metrics[split] = finite_metrics(regression, inputs.labels.numpy(), f"{stage}, {split}")
        rows.extend(prediction_rows(split, inputs, regression, logits))
    result = {
        "metrics": metrics,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "history": state["history"],
    }
    if predictions_file is not None:
        run_on_main(write_predictions, predictions_file, rows)
    if accelerator.is_main_process:
        write_csv(
            out_dir / "history.csv",
            state["history"],
            ["epoch", "train_loss", "loss_ce", "loss_l1", "valid_mae", "seconds"],
        )
        write_json(out_dir / "metrics.json", metrics)  # last: it marks the stage finished
    return result


def prediction_rows(
    split: str, inputs: TeacherInputs, regression: np.ndarray, logits: np.ndarray
) -> list[dict[str, Any]]:
    """One row per clip of ``split``: uid, split, label, has_video, r_T and the K logits.

    ``regression`` (N,) and ``logits`` (N, K) are :func:`run_teacher`'s outputs for ``inputs``.
    """
    rows = []
    for i, record in enumerate(inputs.records):
        row = {
            "uid": record.uid,
            "split": split,
            "label": "" if record.split == UNLABELLED else record.label,
            "has_video": int(bool(inputs.video_mask[i])),
            "r_T": float(regression[i]),
        }
        row.update({f"logit_{k}": float(v) for k, v in enumerate(logits[i])})
        rows.append(row)
    return rows


def write_predictions(out_file: str | Path, rows: list[dict[str, Any]]) -> None:
    """The predictions file the student reads (rows from :func:`prediction_rows`)."""
    write_csv(out_file, rows, list(rows[0]))


_PREDICTION_COLUMNS = ["uid", "split", "label", "has_video", "r_T"]  # then logit_0..K-1
_OUT_OF_FOLD_COLUMNS = ["r_T_in_sample", "fold"]  # added by a run's out-of-fold targets
PREDICTIONS_KIND = (
    f"a teacher predictions CSV with the header row {','.join(_PREDICTION_COLUMNS)},logit_0,..."
)


def is_predictions_file(path: str | Path) -> bool:
    """Whether ``path`` is a predictions file videoadviser wrote: its header row is exactly
    the one :func:`write_predictions` writes (:func:`prediction_rows`' columns, with
    ``r_T_in_sample,fold`` after them once a run put out-of-fold targets in)."""
    header = csv_header(path)
    if header is None or header[: len(_PREDICTION_COLUMNS)] != _PREDICTION_COLUMNS:
        return False
    logits = header[len(_PREDICTION_COLUMNS) :]
    if logits[-len(_OUT_OF_FOLD_COLUMNS) :] == _OUT_OF_FOLD_COLUMNS:
        logits = logits[: -len(_OUT_OF_FOLD_COLUMNS)]
    return bool(logits) and logits == [f"logit_{k}" for k in range(len(logits))]


def check_predictions_file(
    path: str | Path,
    overwrite: bool = False,
    inputs: dict[str, str | Path | None] | None = None,
    option: str | None = None,
) -> Path:
    """Check, before any work, that a predictions file may be written at ``path``: an existing
    file is replaced only with ``overwrite`` and only if it is one (:func:`is_predictions_file`);
    never one of the command's ``inputs``. Messages name ``option`` (``--out``) with the path,
    or the path alone for a file a command names itself (a run's
    ``seed_*/teacher_predictions.csv``): :func:`~videoadviser.utils.io.check_output_file`."""
    return check_output_file(
        path,
        option,
        kind=PREDICTIONS_KIND,
        is_kind=is_predictions_file,
        overwrite=overwrite,
        inputs=inputs,
    )
