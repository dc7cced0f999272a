"""Train the student with step 2 and predict with it (``videoadviser student train``, ``predict``).

Loss ``L1(r_S, y) + lambda2 * MSE(r_S, r_T)`` with the teacher's r_T read from the file that
``teacher predict`` wrote: the teacher never runs here, so distillation costs what plain
fine-tuning costs. ``lambda2 = 0`` is the no-distillation baseline through the same code.
Selection on validation MAE only, early stopping; ``best/`` is the exported model.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from videoadviser import __version__
from videoadviser.config import Recipe, StudentConfig
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.records import SPLITS, ClipRecord
from videoadviser.distillation.losses import student_loss
from videoadviser.errors import DataError
from videoadviser.evaluation.metrics import regression_metrics
from videoadviser.student.model import build_student, load_student
from videoadviser.utils.io import read_json, staged_folder, write_csv, write_json
from videoadviser.utils.runtime import make_accelerator, make_optimizer, seed_everything

logger = logging.getLogger(__name__)

METADATA_FILE = "videoadviser_student.json"


def read_teacher_predictions(path: str | Path, records: list[ClipRecord]) -> torch.Tensor:
    """r_T for each record, in order, from a ``teacher_predictions.csv``.

    Raises:
        DataError: the file is missing, lacks columns, has a non-finite r_T or lacks clips.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no teacher predictions; run `videoadviser teacher predict` first")
    values: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"uid", "r_T"} <= set(reader.fieldnames or []):
            raise DataError(f"{path}: needs columns uid and r_T; found {reader.fieldnames}")
        for row in reader:
            try:
                value = float(row["r_T"])
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise DataError(
                    f"{path}:{reader.line_num}: r_T {row['r_T']!r} is not a finite number"
                )
            values[row["uid"]] = value
    missing = [r.uid for r in records if r.uid not in values]
    if missing:
        raise DataError(
            f"{path}: no teacher prediction for {len(missing)} of {len(records)} training clips "
            f"(first: {missing[0]!r}); run `videoadviser teacher predict` on this dataset"
        )
    return torch.tensor([values[r.uid] for r in records], dtype=torch.float32)


class Encoded:
    """Token ids of N texts, unpadded, with batches cut to bucket similar lengths together."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
    ) -> None:
        self.ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        self.pad_id = tokenizer.pad_token_id or 0

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, index: list[int]) -> dict[str, torch.Tensor]:
        length = max(len(self.ids[i]) for i in index)
        ids = torch.full((len(index), length), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(index), length), dtype=torch.long)
        for row, i in enumerate(index):
            ids[row, : len(self.ids[i])] = torch.tensor(self.ids[i])
            mask[row, : len(self.ids[i])] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def batches(self, batch_size: int, seed: int | None) -> list[list[int]]:
        """Index batches. Shuffled (``seed``): random pools of 8 batches, each sorted by length,
        batch order shuffled. Unshuffled: sorted by length (fast, same results)."""
        lengths = np.array([len(x) for x in self.ids])
        if seed is None:
            order = np.argsort(lengths, kind="stable").tolist()
            return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.ids))
        pool = batch_size * 8
        out: list[list[int]] = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool].tolist(), key=lambda i: lengths[i])
            out.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        return [out[i] for i in rng.permutation(len(out))]


@torch.no_grad()
def predict_encoded(
    model: PreTrainedModel, encoded: Encoded, batch_size: int = 64, device: Any = None
) -> np.ndarray:
    """Student scores for every text, in order: ``(N,)``."""
    model.eval()
    device = device or next(model.parameters()).device
    out = np.empty(len(encoded), dtype=np.float32)
    for index in encoded.batches(batch_size, None):
        batch = {k: v.to(device) for k, v in encoded.batch(index).items()}
        out[index] = model(**batch).logits.squeeze(-1).float().cpu().numpy()
    return out


def predict_texts(model_dir: str | Path, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """Load an exported student and score ``texts``: ``(N,)`` sentiment in about [-3, 3]."""
    model, tokenizer = load_student(model_dir)
    max_length = min(getattr(tokenizer, "model_max_length", 512), 512)
    metadata = Path(model_dir) / METADATA_FILE
    if metadata.is_file():  # truncate as in training
        max_length = read_json(metadata)["student"]["max_length"]
    return predict_encoded(model, Encoded(tokenizer, texts, max_length), batch_size)


def train_student(
    recipe: Recipe,
    dataset: SentimentDataset,
    out_dir: str | Path,
    teacher_predictions: str | Path | None,
    lambda2: float | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune the student; ``lambda2`` overrides the recipe's (0 = baseline, no teacher needed).

    Writes ``best/`` (an exported transformers model + tokenizer), ``metrics.json``,
    ``history.csv`` and ``predictions.csv`` (every clip of every split).
    """
    cfg: StudentConfig = recipe.student
    weight = cfg.lambda2 if lambda2 is None else lambda2
    out_dir = Path(out_dir)
    seed_everything(recipe.seed)
    accelerator = make_accelerator(cfg.mixed_precision)
    model, tokenizer = build_student(cfg.checkpoint, cfg.dropout)
    splits = {s: dataset.split(s) for s in SPLITS}
    encoded = {
        s: Encoded(tokenizer, [r.text for r in recs], cfg.max_length) for s, recs in splits.items()
    }
    labels = {s: torch.tensor([r.label for r in recs]) for s, recs in splits.items()}
    if weight > 0:
        if teacher_predictions is None:
            raise DataError("distillation (lambda2 > 0) needs the teacher's predictions file")
        targets = read_teacher_predictions(teacher_predictions, splits["train"])
    else:
        targets = torch.zeros(len(splits["train"]))

    head = [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n]
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    optimizer = make_optimizer(
        [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
        cfg.weight_decay,
        accelerator.device,
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    best_mae, best_epoch, bad, history = math.inf, -1, 0, []
    train = encoded["train"]
    bar = tqdm(
        range(cfg.epochs), desc=f"student (lambda2={weight:g})", unit="epoch", disable=not progress
    )
    for epoch in bar:
        model.train()
        started, losses = time.perf_counter(), []
        batches = train.batches(cfg.batch_size, recipe.seed * 1000 + epoch)
        shard = batches[accelerator.process_index :: accelerator.num_processes]
        for index in tqdm(shard, desc=f"epoch {epoch + 1}", leave=False, disable=not progress):
            batch = {k: v.to(accelerator.device) for k, v in train.batch(index).items()}
            with accelerator.autocast():
                prediction = model(**batch).logits.squeeze(-1).float()
            loss, _ = student_loss(
                prediction,
                labels["train"][index].to(accelerator.device),
                targets[index].to(accelerator.device),
                weight,
            )
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            optimizer.step()
            losses.append(loss.item())
        valid = predict_encoded(model, encoded["valid"], device=accelerator.device)
        valid_mae = float(np.mean(np.abs(valid - labels["valid"].numpy())))
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": float(np.mean(losses)),
                "valid_mae": valid_mae,
                "seconds": time.perf_counter() - started,
            }
        )
        if valid_mae < best_mae:
            best_mae, best_epoch, bad = valid_mae, epoch + 1, 0
            if accelerator.is_main_process:
                export_student(
                    out_dir / "best", accelerator.unwrap_model(model), tokenizer, recipe, weight
                )
        else:
            bad += 1
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", valid_mae=f"{valid_mae:.3f}")
        if bad >= cfg.patience:
            break
    accelerator.wait_for_everyone()

    best, _ = load_student(out_dir / "best")
    best = best.to(accelerator.device)
    metrics, rows = {}, []
    for split, records in splits.items():
        predictions = predict_encoded(best, encoded[split])
        metrics[split] = regression_metrics(predictions, labels[split].numpy())
        rows.extend(
            {"uid": r.uid, "split": split, "label": r.label, "r_S": float(p)}
            for r, p in zip(records, predictions)
        )
    if accelerator.is_main_process:
        write_json(out_dir / "metrics.json", metrics)
        write_csv(out_dir / "history.csv", history, ["epoch", "train_loss", "valid_mae", "seconds"])
        write_csv(out_dir / "predictions.csv", rows, ["uid", "split", "label", "r_S"])
    return {
        "metrics": metrics,
        "best_epoch": best_epoch,
        "history": history,
        "lambda2": weight,
        "predictions": rows,
    }


def export_student(
    folder: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    recipe: Recipe,
    lambda2: float,
) -> None:
    """Save a plain transformers model + tokenizer (+ a metadata JSON), atomically."""
    with staged_folder(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_json(
            staging / METADATA_FILE,
            {
                "kind": "videoadviser-student",
                "version": __version__,
                "lambda2": lambda2,
                "student": asdict(recipe.student),
                "seed": recipe.seed,
            },
        )
