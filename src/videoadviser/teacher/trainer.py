"""Train, save, load and run the teacher (``videoadviser teacher train|predict``).

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
from transformers import AutoTokenizer, CLIPConfig, CLIPModel, PreTrainedTokenizerBase

from videoadviser import __version__
from videoadviser.config import DataConfig, Recipe, TeacherConfig
from videoadviser.data.clips import decode_records
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.frames import FrameSampling, normalize_pixels
from videoadviser.data.records import SPLITS, ClipRecord
from videoadviser.distillation.losses import teacher_loss
from videoadviser.errors import ConfigError
from videoadviser.evaluation.metrics import regression_metrics
from videoadviser.teacher.clip_checkpoint import resolve_checkpoint
from videoadviser.teacher.features import cached_frame_features, vision_fingerprint
from videoadviser.teacher.model import TeacherArchitecture, VideoAdviserTeacher, class_names
from videoadviser.utils.checkpoint import (
    load_checkpoint,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_checkpoint,
)
from videoadviser.utils.io import read_json, write_csv, write_json
from videoadviser.utils.runtime import make_accelerator, seed_everything

logger = logging.getLogger(__name__)

PREDICTIONS_FILE = "teacher_predictions.csv"


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
    )


def _tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    enc = tokenizer(
        texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt"
    )
    return enc["input_ids"], enc["attention_mask"]


def assemble_teacher(
    clip: CLIPModel, tokenizer: PreTrainedTokenizerBase, arch: TeacherArchitecture
) -> VideoAdviserTeacher:
    prompts = [arch.prompt_template.format(name) for name in class_names(arch.num_classes)]
    ids, mask = _tokenize(tokenizer, prompts, clip.config.text_config.max_position_embeddings)
    return VideoAdviserTeacher(clip, arch, ids, mask)


def build_teacher(recipe: Recipe) -> tuple[VideoAdviserTeacher, PreTrainedTokenizerBase]:
    """A fresh teacher on the recipe's CLIP checkpoint (hub id, folder or ``random:<arch>``)."""
    cfg = recipe.teacher
    source = resolve_checkpoint(cfg.checkpoint, Path(recipe.cache_dir) / "checkpoints")
    try:
        clip = CLIPModel.from_pretrained(source)
        tokenizer = AutoTokenizer.from_pretrained(source)
    except OSError as error:
        raise ConfigError(
            f"teacher.checkpoint {cfg.checkpoint!r}: cannot load a CLIP model ({error})"
        ) from None
    teacher = assemble_teacher(clip, tokenizer, architecture(cfg, recipe.data))
    for module in (clip.vision_model, clip.visual_projection):
        module.requires_grad_(not cfg.freeze_vision)
    for module in (clip.text_model, clip.text_projection):
        module.requires_grad_(not cfg.freeze_text)
    return teacher, tokenizer


def frame_sampling(teacher: VideoAdviserTeacher, data: DataConfig) -> FrameSampling:
    return FrameSampling(
        num_frames=data.num_frames, image_size=teacher.clip.config.vision_config.image_size
    )


# -- inputs ------------------------------------------------------------------------------------
@dataclass
class TeacherInputs:
    """Everything the teacher reads for N clips, in memory.

    ``frames`` (N, T, S, S, 3) uint8 when the vision tower is tuned; ``frame_features``
    (N, T, E) and ``patch_features`` (N, P, E) when it is frozen; neither for a
    transcript-only teacher.
    """

    records: list[ClipRecord]
    labels: torch.Tensor
    text_ids: torch.Tensor
    text_mask: torch.Tensor
    video_mask: torch.Tensor
    frames: torch.Tensor | None = None
    frame_features: torch.Tensor | None = None
    patch_features: torch.Tensor | None = None

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
            out["pixels"] = normalize_pixels(self.frames[index], sampling)
        if self.frame_features is not None and self.patch_features is not None:
            out["frame_features"] = self.frame_features[index]
            out["patch_features"] = self.patch_features[index]
        return out


def prepare_inputs(
    teacher: VideoAdviserTeacher,
    tokenizer: PreTrainedTokenizerBase,
    records: list[ClipRecord],
    recipe: Recipe,
    progress: bool = True,
) -> TeacherInputs:
    cfg, data = recipe.teacher, recipe.data
    max_length = min(cfg.max_text_length, teacher.clip.config.text_config.max_position_embeddings)
    ids, mask = _tokenize(tokenizer, [r.text for r in records], max_length)
    inputs = TeacherInputs(
        records=records,
        labels=torch.tensor([r.label for r in records], dtype=torch.float32),
        text_ids=ids,
        text_mask=mask,
        video_mask=torch.zeros(len(records), dtype=torch.bool),
    )
    if not teacher.arch.use_video:
        return inputs
    sampling = frame_sampling(teacher, data)
    if cfg.freeze_vision:
        was_training = teacher.training
        teacher.eval()
        fingerprint = vision_fingerprint(
            [teacher.clip.vision_model, teacher.clip.visual_projection]
        )
        device = next(teacher.parameters()).device

        def encode(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return teacher.encode_frames(pixels.to(device))

        frames, patches, has_video = cached_frame_features(
            records,
            encode,
            fingerprint,
            sampling,
            recipe.cache_dir,
            data.video_policy,
            progress=progress,
        )
        teacher.train(was_training)
        inputs.frame_features, inputs.patch_features = frames, patches
    else:
        frames_np, has_video = decode_records(
            records, sampling.num_frames, sampling.image_size, data.video_policy, progress=progress
        )
        inputs.frames = torch.from_numpy(frames_np)
    inputs.video_mask = torch.from_numpy(has_video)
    return inputs


# -- training ----------------------------------------------------------------------------------
def _batches(n: int, batch_size: int, shuffle_seed: int | None) -> DataLoader:
    order = list(range(n))
    if shuffle_seed is not None:
        generator = torch.Generator().manual_seed(shuffle_seed)
        order = torch.randperm(n, generator=generator).tolist()
    return DataLoader(order, batch_size=batch_size, shuffle=False, collate_fn=torch.tensor)


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
    tokenizer: PreTrainedTokenizerBase,
    config: dict[str, Any],
    **extra: Any,
) -> None:
    save_checkpoint(
        folder, teacher.state_dict(), config, extra=lambda d: tokenizer.save_pretrained(d), **extra
    )


def load_teacher(
    folder: str | Path,
) -> tuple[VideoAdviserTeacher, PreTrainedTokenizerBase, dict[str, Any]]:
    """Rebuild a saved teacher (weights, architecture, tokenizer) from its folder alone."""
    state, config = load_checkpoint(folder)
    if config.get("kind") != "videoadviser-teacher":
        raise ConfigError(
            f"{folder}: not a teacher checkpoint (config.json kind is {config.get('kind')!r})"
        )
    clip = CLIPModel(CLIPConfig.from_dict(config["clip_config"]))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    teacher = assemble_teacher(clip, tokenizer, TeacherArchitecture(**config["architecture"]))
    teacher.load_state_dict(state, strict=True)
    teacher.eval()
    return teacher, tokenizer, config


def _resumable(saved: dict[str, Any] | None, current: dict[str, Any]) -> bool:
    """A run may continue another if everything but the number of epochs is the same."""

    def strip(config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "teacher": {k: v for k, v in config["teacher"].items() if k != "epochs"}}

    return saved is not None and strip(saved) == strip(current)


def train_teacher(
    recipe: Recipe,
    dataset: SentimentDataset,
    out_dir: str | Path,
    progress: bool = True,
    resume: bool = True,
) -> dict[str, Any]:
    """Train the teacher; write ``best/`` (checkpoint), ``metrics.json`` and ``history.csv``.

    With ``resume`` a run interrupted after some epochs continues from ``last/``.

    Returns:
        ``{"metrics": {split: MMSA metrics}, "best_epoch": int, "epochs_run": int, ...}``.
    """
    cfg = recipe.teacher
    out_dir = Path(out_dir)
    seed_everything(recipe.seed)
    accelerator = make_accelerator(cfg.mixed_precision)
    teacher, tokenizer = build_teacher(recipe)
    sampling = frame_sampling(teacher, recipe.data)
    splits = {
        s: prepare_inputs(teacher, tokenizer, dataset.split(s), recipe, progress) for s in SPLITS
    }
    config = checkpoint_config(teacher, recipe, sampling)

    towers = [p for n, p in teacher.named_parameters() if n.startswith("clip.") and p.requires_grad]
    own = [
        p for n, p in teacher.named_parameters() if not n.startswith("clip.") and p.requires_grad
    ]
    groups = [{"params": own, "lr": cfg.lr}] + (
        [{"params": towers, "lr": cfg.tower_lr}] if towers else []
    )
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

    state = {"epoch": 0, "best_mae": math.inf, "best_epoch": -1, "bad_epochs": 0, "history": []}
    last = out_dir / "last"
    if resume and (last / "trainer_state.json").is_file():
        saved = read_json(last / "trainer_state.json")
        if _resumable(saved.get("config"), config):
            teacher.load_state_dict(load_tensors(last / "model.safetensors"))
            optimizer_from_tensors(
                optimizer, load_tensors(last / "optimizer.safetensors"), saved["optimizer"]
            )
            state = saved["state"]
            logger.info("resuming teacher training after epoch %d", state["epoch"])
        else:
            logger.warning("%s was written by another configuration; starting afresh", last)

    model, optimizer = accelerator.prepare(teacher, optimizer)
    train, valid = splits["train"], splits["valid"]
    epochs = tqdm(
        range(state["epoch"], cfg.epochs), desc="teacher", unit="epoch", disable=not progress
    )
    for epoch in epochs:
        if state["bad_epochs"] >= cfg.patience and epoch >= cfg.min_epochs:
            break
        model.train()
        started, losses = time.perf_counter(), []
        loader = accelerator.prepare(
            _batches(len(train), cfg.batch_size, recipe.seed * 1000 + epoch)
        )
        dropout_rng = torch.Generator().manual_seed(recipe.seed * 1000 + epoch + 1)
        for index in tqdm(loader, desc=f"epoch {epoch + 1}", leave=False, disable=not progress):
            batch = {
                k: v.to(accelerator.device) for k, v in train.batch(index.cpu(), sampling).items()
            }
            if cfg.transcript_dropout > 0 and teacher.arch.use_video and teacher.arch.use_text:
                drop = torch.rand(len(index), generator=dropout_rng) < cfg.transcript_dropout
                keep = ~(drop & batch["video_mask"].cpu())  # never hide the only modality
                batch["transcript_mask"] = keep.to(accelerator.device)
            with accelerator.autocast():
                out = _forward(model, batch)
                loss, _parts = teacher_loss(
                    out.logits.float(), out.regression.float(), batch["labels"], cfg.lambda1
                )
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            optimizer.step()
            losses.append(loss.item())
        predictions, _ = run_teacher(model, valid, sampling, cfg.batch_size * 2, accelerator)
        valid_mae = float(np.mean(np.abs(predictions - valid.labels.numpy())))
        state["epoch"] = epoch + 1
        state["history"].append(
            {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                "valid_mae": valid_mae,
                "seconds": time.perf_counter() - started,
            }
        )
        if valid_mae < state["best_mae"]:
            state.update(best_mae=valid_mae, best_epoch=epoch + 1, bad_epochs=0)
            if accelerator.is_main_process:
                save_teacher(out_dir / "best", accelerator.unwrap_model(model), tokenizer, config)
        else:
            state["bad_epochs"] += 1
        if accelerator.is_main_process:
            opt_tensors, opt_meta = optimizer_to_tensors(optimizer)
            save_teacher(
                last,
                accelerator.unwrap_model(model),
                tokenizer,
                config,
                other_tensors={"optimizer": opt_tensors},
            )
            write_json(
                last / "trainer_state.json",
                {"config": config, "state": state, "optimizer": opt_meta},
            )
        epochs.set_postfix(
            loss=f"{np.mean(losses):.3f}",
            valid_mae=f"{valid_mae:.3f}",
            best=f"{state['best_mae']:.3f}",
        )
    accelerator.wait_for_everyone()

    best, _, _ = load_teacher(out_dir / "best")
    best = best.to(accelerator.device)
    metrics = {}
    for split, inputs in splits.items():
        predictions, _ = run_teacher(best, inputs, sampling, cfg.batch_size * 2)
        metrics[split] = regression_metrics(predictions, inputs.labels.numpy())
    result = {
        "metrics": metrics,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "history": state["history"],
    }
    if accelerator.is_main_process:
        write_json(out_dir / "metrics.json", metrics)
        write_csv(
            out_dir / "history.csv",
            state["history"],
            ["epoch", "train_loss", "valid_mae", "seconds"],
        )
    return result


# -- prediction --------------------------------------------------------------------------------
def predict_teacher(
    teacher_dir: str | Path,
    dataset: SentimentDataset,
    recipe: Recipe,
    out_file: str | Path,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Write r_T and the K logits of every clip of every split to one CSV (the student reads it)."""
    teacher, tokenizer, config = load_teacher(teacher_dir)
    saved = Recipe(teacher=TeacherConfig(**config["teacher"]), data=DataConfig(**config["data"]))
    saved.cache_dir, saved.data.video_policy = recipe.cache_dir, recipe.data.video_policy
    sampling = FrameSampling(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in config["sampling"].items()}
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    teacher = teacher.to(device)
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        records = dataset.split(split)
        inputs = prepare_inputs(teacher, tokenizer, records, saved, progress)
        regression, logits = run_teacher(teacher, inputs, sampling, 64, progress=progress)
        for i, record in enumerate(records):
            row = {
                "uid": record.uid,
                "split": split,
                "label": record.label,
                "has_video": int(bool(inputs.video_mask[i])),
                "r_T": float(regression[i]),
            }
            row.update({f"logit_{k}": float(v) for k, v in enumerate(logits[i])})
            rows.append(row)
    fields = ["uid", "split", "label", "has_video", "r_T"] + [
        f"logit_{k}" for k in range(logits.shape[1])
    ]
    write_csv(out_file, rows, fields)
    return rows
