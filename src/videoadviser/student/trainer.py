"""Train the student with step 2 and predict with it (``videoadviser student train``, ``predict``).

Loss ``L1(r_S, y) + lambda2 * MSE(r_S, r_T)`` with the teacher's r_T read from the file that
``teacher predict`` wrote: the teacher never runs here, so distillation costs what plain
fine-tuning costs. ``lambda2 = 0`` is the no-distillation baseline through the same code.
Transfer-set (unlabelled) clips join the training set with the distillation term alone.
Selection on validation MAE only, early stopping, the learning-rate schedule and the optional
weight average come from the engine the teacher uses (:mod:`videoadviser.utils.engine`);
``best/`` is the exported model.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import shutil
import time
from collections.abc import Sized
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from videoadviser import __version__
from videoadviser.config import Recipe, StudentConfig, validate_recipe
from videoadviser.data.dataset import SentimentDataset
from videoadviser.data.records import (
    SPLITS,
    ClipRecord,
    join_problems,
    numbered_rows,
    records_fingerprint,
)
from videoadviser.data.tokens import tokenize
from videoadviser.data.unlabelled import UNLABELLED, TransferSet, check_no_overlap
from videoadviser.distillation.losses import student_loss
from videoadviser.errors import ConfigError, DataError
from videoadviser.evaluation.metrics import finite_metrics
from videoadviser.student.model import build_student, check_student_checkpoints, load_student
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
    WeightAverage,
    check_finite,
    clip_gradients,
    kept,
    mean_parts,
    recover_checkpoints,
    restore_rng,
    rng_tensors,
)
from videoadviser.utils.io import (
    read_json,
    read_user_text,
    staged_folder,
    to_jsonable,
    write_csv,
    write_json,
)
from videoadviser.utils.ownership import (
    STUDENT_KIND,
    STUDENT_METADATA,
    STUDENT_MODEL,
    STUDENT_RESUME_POINT,
    foreign_files,
)
from videoadviser.utils.runtime import (
    autocast,
    close_trackers,
    make_accelerator,
    make_optimizer,
    resolve_precision,
    seed_everything,
)

logger = logging.getLogger(__name__)

METADATA_FILE = STUDENT_METADATA  # (named in ownership, which tells a student by it)
RESUME_KIND = "videoadviser-student-resume"


@dataclass
class TeacherTargets:
    """The teacher's outputs for N clips, in record order: r_T ``(N,)``, logits ``(N, K)``."""

    regression: torch.Tensor
    logits: torch.Tensor | None


# |r_T| above this is no sentiment prediction: labels lie in [-3, 3] and a trained teacher's
# r_T stays near them (the expectation head within them), so the file is damaged or the teacher
# diverged
R_T_LIMIT = 10.0


def read_teacher_predictions(
    path: str | Path, records: list[ClipRecord], what: str = "training clips"
) -> TeacherTargets:
    """r_T (and the K logits, where the file has them) for each record, in order, from a
    ``teacher_predictions.csv``.

    Raises:
        DataError: the file is missing or lacks columns; rows (all of them, by line and uid)
            with a uid given twice, an r_T or logit that is not a finite number, or an r_T
            outside [-R_T_LIMIT, R_T_LIMIT]; clips without a row (naming the first and the
            command that writes them).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no teacher predictions; run `videoadviser teacher predict` first")
    values: dict[str, float] = {}
    logits: dict[str, list[float]] = {}
    lines: dict[str, int] = {}
    problems: list[str] = []
    with io.StringIO(read_user_text(path), newline="") as handle:
        columns, rows = numbered_rows(handle, path)
        if not {"uid", "r_T"} <= set(columns):
            raise DataError(f"{path}: needs columns uid and r_T; found {columns}")
        logit_columns = sorted(
            (c for c in columns if c.startswith("logit_") and c[6:].isdigit()),
            key=lambda c: int(c[6:]),
        )
        for line, row in rows:
            uid = row["uid"] or ""
            where = f"{path}:{line} (uid {uid!r})"
            if uid in lines:
                problems.append(
                    f"{where}: a second row for this clip (the first is line {lines[uid]}); "
                    "give each clip one r_T"
                )
                continue
            lines[uid] = line
            try:
                value = _finite(row["r_T"], "r_T", where)
                if abs(value) > R_T_LIMIT:
                    raise DataError(
                        f"{where}: r_T {value:g} is outside [-{R_T_LIMIT:g}, {R_T_LIMIT:g}]; "
                        "labels lie in [-3, 3], so the file is damaged or its teacher diverged"
                    )
                values[uid] = value
                if logit_columns:
                    logits[uid] = [_finite(row[c], c, where) for c in logit_columns]
            except DataError as error:
                problems.append(str(error))
    if problems:
        raise DataError(
            join_problems(f"bad rows in {path}", problems)
            + "\nWrite the file again with `videoadviser teacher predict`."
        )
    missing = [r.uid for r in records if r.uid not in values]
    if missing:
        unlabelled = any(r.split == UNLABELLED for r in records)
        command = (
            "`videoadviser teacher predict --unlabelled DIR` writes them"
            if unlabelled
            else "run `videoadviser teacher predict` on this dataset"
        )
        raise DataError(
            f"{path}: no teacher prediction for {len(missing)} of {len(records)} {what} "
            f"(first: {missing[0]!r}); {command}"
        )
    return TeacherTargets(
        regression=torch.tensor([values[r.uid] for r in records], dtype=torch.float32),
        logits=torch.tensor([logits[r.uid] for r in records], dtype=torch.float32)
        if logits
        else None,
    )


def _finite(raw: str | None, column: str, where: str) -> float:
    """The number in a predictions cell, or a :class:`DataError` naming ``where``."""
    try:
        value = float(raw or "nan")
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{where}: {column} {raw!r} is not a finite number")
    return value


class Encoded:
    """Token ids of N texts, unpadded, with batches cut to bucket similar lengths together."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        texts: list[str],
        max_length: int,
        what: str = "texts",
    ) -> None:
        self.ids = tokenize(tokenizer, texts, max_length, what)["input_ids"]
        self.pad_id = tokenizer.pad_token_id or 0

    def __add__(self, other: Encoded) -> Encoded:
        """The texts of both, ``self``'s first (no tokenizing again)."""
        both = object.__new__(Encoded)
        both.ids, both.pad_id = self.ids + other.ids, self.pad_id
        return both

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
    model: PreTrainedModel,
    encoded: Encoded,
    batch_size: int = 64,
    device: Any = None,
    precision: str = "no",
) -> np.ndarray:
    """Student scores for every text, in order: ``(N,)``. Validation during training runs in
    the training ``precision``; exported models predict in full precision."""
    model.eval()
    device = device or next(model.parameters()).device
    out = np.empty(len(encoded), dtype=np.float32)
    for index in encoded.batches(batch_size, None):
        batch = {k: v.to(device) for k, v in encoded.batch(index).items()}
        with autocast(precision, torch.device(device)):
            out[index] = model(**batch).logits.squeeze(-1).float().cpu().numpy()
    return out


def parameter_groups(model: PreTrainedModel, cfg: StudentConfig) -> list[dict[str, Any]]:
    """The optimizer's groups: the pretrained encoder at ``cfg.lr``, the new head (pooler and
    classifier) at ``cfg.head_lr``."""
    head = [p for n, p in model.named_parameters() if "classifier" in n or "pooler" in n]
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    return [{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}]


def predict_texts(
    model_dir: str | Path, texts: list[str], batch_size: int = 64, backend: str = "torch"
) -> np.ndarray:
    """Score ``texts`` with an exported student: ``(N,)`` sentiment in about [-3, 3].

    ``backend`` ``"torch"`` loads the transformers folder (``best/``); ``"onnx"`` runs an
    ONNX export (``videoadviser export``) on ONNX Runtime.
    """
    if backend == "onnx":
        from videoadviser.student.export import OnnxStudent

        return OnnxStudent(model_dir).predict(texts, batch_size)
    if backend != "torch":
        raise ConfigError(f"backend {backend!r}: choose torch or onnx")
    model, tokenizer = load_student(model_dir)
    encoded = Encoded(tokenizer, texts, truncation_length(model_dir, tokenizer))
    return predict_encoded(model, encoded, batch_size)


def truncation_length(model_dir: str | Path, tokenizer: PreTrainedTokenizerBase) -> int:
    """Tokens an exported student reads: its training's ``student.max_length`` where the
    folder records it, else the tokenizer's limit (at most 512)."""
    metadata = Path(model_dir) / METADATA_FILE
    if metadata.is_file():  # truncate as in training
        return int(read_json(metadata)["student"]["max_length"])
    return min(getattr(tokenizer, "model_max_length", 512), 512)


def resolved_lambda2(recipe: Recipe, lambda2: float | None, transfer: Sized | None) -> float:
    """The distillation weight a student trains with: ``lambda2`` if given, else the recipe's
    (its transfer-set value when there is a ``transfer`` set).

    Raises:
        ConfigError: a given ``lambda2`` that is not a finite number >= 0.
    """
    if lambda2 is not None and not 0 <= lambda2 < math.inf:
        raise ConfigError(
            f"lambda2 = {lambda2!r} is out of range; allowed: a number >= 0 (0: the "
            "no-distillation baseline)"
        )
    return recipe.student.resolved(transfer is not None).lambda2 if lambda2 is None else lambda2


def train_student(
    recipe: Recipe,
    dataset: SentimentDataset,
    out_dir: str | Path,
    teacher_predictions: str | Path | None,
    lambda2: float | None = None,
    progress: bool = True,
    transfer: TransferSet | None = None,
    resume: bool = True,
) -> dict[str, Any]:
    """Fine-tune the student; ``lambda2`` overrides the recipe's (0 = baseline, no teacher needed).

    With a ``transfer`` set (and ``lambda2`` > 0) its clips join the training set with the
    distillation term alone; their r_T must be in ``teacher_predictions``. Writes ``best/`` (an
    exported transformers model + tokenizer), ``metrics.json``, ``history.csv`` and
    ``predictions.csv`` (every labelled clip of every split; transfer clips are never scored).

    At every validation a resume point goes to ``last/`` (weights, optimizer, weight average,
    RNG, step, history and selection, in one atomic folder). With ``resume``, a run killed
    part-way continues from it when the configuration and the targets are the same, and gives
    the result an uninterrupted run gives; ``last/`` is removed once the stage is finished.
    """
    validate_recipe(recipe)  # every value, before any work
    check_student_checkpoints(recipe)
    weight = resolved_lambda2(recipe, lambda2, transfer)
    with_pool = transfer is not None and weight > 0  # else the transfer set is not read
    cfg: StudentConfig = recipe.student.resolved(with_transfer_set=with_pool)
    out_dir = Path(out_dir)
    seed_everything(recipe.seed)
    precision = resolve_precision(cfg.mixed_precision)
    model, tokenizer = build_student(cfg.checkpoint, cfg.dropout)
    splits = {s: dataset.split(s) for s in SPLITS}
    encoded = {
        s: Encoded(tokenizer, [r.text for r in recs], cfg.max_length, f"{s} transcripts")
        for s, recs in splits.items()
    }
    labels = {s: torch.tensor([r.label for r in recs]) for s, recs in splits.items()}
    pool = transfer.records if with_pool else []  # type: ignore[union-attr]
    if pool:
        check_no_overlap(dataset, transfer)  # type: ignore[arg-type]
    train_records = splits["train"] + pool
    train = encoded["train"]
    if pool:
        train = train + Encoded(
            tokenizer, [r.text for r in pool], cfg.max_length, "unlabelled transcripts"
        )
    train_labels = torch.tensor([r.label for r in train_records]).nan_to_num(0.0)
    labelled = torch.tensor([r.split != UNLABELLED for r in train_records])
    soft = weight > 0 and cfg.soft_weight > 0
    if weight > 0:
        if teacher_predictions is None:
            raise DataError("distillation (lambda2 > 0) needs the teacher's predictions file")
        targets = read_teacher_predictions(teacher_predictions, splits["train"])
        if pool:
            extra = read_teacher_predictions(teacher_predictions, pool, "unlabelled clips")
            targets = TeacherTargets(
                torch.cat([targets.regression, extra.regression]),
                torch.cat([targets.logits, extra.logits])
                if targets.logits is not None and extra.logits is not None
                else None,
            )
        if soft and targets.logits is None:
            raise DataError(
                f"{teacher_predictions}: the soft-class term (student.soft_weight > 0) needs "
                "the teacher's logit_0..K-1 columns; write them with `videoadviser teacher predict`"
            )
    else:
        targets = TeacherTargets(torch.zeros(len(train_records)), None)

    accelerator = make_accelerator(
        log_dir=out_dir
    )  # after the checks: a refused run writes nothing
    optimizer = make_optimizer(parameter_groups(model, cfg), cfg.weight_decay, accelerator.device)
    steps_per_epoch = math.ceil(len(train) / (cfg.batch_size * accelerator.num_processes))
    schedule = StepSchedule(
        optimizer,
        cfg.schedule,
        total_steps=cfg.epochs * steps_per_epoch,
        warmup_steps=round(cfg.warmup_epochs * steps_per_epoch),
    )
    # validate every `eval_every` steps (0: at the end of each epoch); patience counts validations
    every = cfg.eval_every or steps_per_epoch
    evals_per_epoch = steps_per_epoch / every
    selection = Selection(cfg.patience, earliest_stop=math.ceil(cfg.min_epochs * evals_per_epoch))
    stage = f"student ({out_dir})"
    history: list[dict[str, Any]] = []
    resume_config = {
        "student": cfg.settings(),
        "seed": recipe.seed,
        "lambda2": weight,
        "train": records_fingerprint(train_records),
        "targets": _tensor_fingerprint(targets),
        "processes": accelerator.num_processes,
    }
    last = out_dir / RESUME_DIR
    recover_checkpoints(out_dir, accelerator)  # a kill mid-checkpoint may have left one aside
    saved = _load_resume_point(last, resume_config, model, optimizer) if resume else None
    model, optimizer = accelerator.prepare(model, optimizer)
    average = (
        WeightAverage(accelerator.unwrap_model(model), cfg.ema_decay) if cfg.ema_decay else None
    )
    step = 0
    if saved is not None:
        step, history = saved["state"]["step"], saved["state"]["history"]
        for key, value in saved["state"]["selection"].items():
            setattr(selection, key, value)
        if average is not None:
            torch._foreach_copy_(average.average, saved["average"])
        restore_rng(saved["rng"])
        schedule.step = step
        logger.info("resuming %s after step %d", stage, step)
    started, losses, parts = time.perf_counter(), [], []

    def validate(step: int) -> None:
        nonlocal started, losses, parts
        with average.swapped_in() if average is not None else nullcontext():
            valid = predict_encoded(
                model, encoded["valid"], device=accelerator.device, precision=precision
            )
            valid_mae = float(np.mean(np.abs(valid - labels["valid"].numpy())))
            epoch_now = math.ceil(step / steps_per_epoch)
            check_finite(
                valid_mae,
                "the validation MAE",
                stage,
                epoch_now,
                step,
                kept(out_dir, selection.best_epoch),
            )
            if selection.update(len(history) + 1, valid_mae) and accelerator.is_main_process:
                export_student(
                    out_dir / "best",
                    accelerator.unwrap_model(model),
                    tokenizer,
                    recipe,
                    cfg,
                    weight,
                )
        history.append(
            {
                "epoch": round(step / steps_per_epoch, 3),
                "step": step,
                "train_loss": float(np.mean(losses)) if losses else math.nan,
                **mean_parts(parts),
                "valid_mae": valid_mae,
                "seconds": time.perf_counter() - started,
            }
        )
        scalars = {"valid/mae": valid_mae, "lr": optimizer.param_groups[0]["lr"]}
        scalars.update({f"train/{k}": v for k, v in history[-1].items() if k.startswith("loss_")})
        if losses:
            scalars["train/loss"] = history[-1]["train_loss"]
        accelerator.log(scalars, step=step)
        bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", valid_mae=f"{valid_mae:.3f}")
        if accelerator.is_main_process:
            state = {"step": step, "history": history, "selection": selection.as_dict()}
            _save_resume_point(
                last,
                resume_config,
                accelerator.unwrap_model(model),
                optimizer,
                average,
                state,
            )
        started, losses, parts = time.perf_counter(), [], []
        model.train()

    bar = tqdm(
        initial=step,
        total=cfg.epochs * steps_per_epoch,
        desc=f"student (lambda2={weight:g}{f', +{len(pool)} unlabelled' if pool else ''})",
        unit="step",
        disable=not progress,
    )
    for epoch in range(cfg.epochs):
        if selection.should_stop(len(history)):
            break
        model.train()
        batches = train.batches(cfg.batch_size, recipe.seed * 1000 + epoch)
        # equal step counts on every process (DDP all-reduces each step): the first batches
        # are repeated to fill the last round
        pad = -len(batches) % accelerator.num_processes
        batches += [batches[i % len(batches)] for i in range(pad)]
        shard = batches[accelerator.process_index :: accelerator.num_processes]
        done_before = epoch * len(shard)  # steps of the earlier epochs
        for position, index in enumerate(shard):
            if done_before + position < step:  # done before the resume point
                continue
            schedule.advance()
            batch = {k: v.to(accelerator.device) for k, v in train.batch(index).items()}
            with autocast(precision, accelerator.device):
                prediction = model(**batch).logits.squeeze(-1).float()
            loss, loss_parts = student_loss(
                prediction,
                train_labels[index].to(accelerator.device),
                targets.regression[index].to(accelerator.device),
                weight,
                labelled=labelled[index].to(accelerator.device),
                distill=cfg.distill_loss,
                teacher_logits=targets.logits[index].to(accelerator.device) if soft else None,  # type: ignore[index]
                soft_weight=cfg.soft_weight if soft else 0.0,
                temperature=cfg.temperature,
            )
            step += 1
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
            if average is not None:
                average.update()
            bar.update(1)
            epoch_end = step == len(shard) * (epoch + 1)
            if step % every == 0 or (epoch_end and not cfg.eval_every):
                validate(step)
                if selection.should_stop(len(history)):
                    break
    if not history or history[-1]["step"] != step:
        validate(step)  # the final weights are always a candidate
    bar.close()
    close_trackers(accelerator)
    accelerator.wait_for_everyone()

    best, _ = load_student(out_dir / "best")
    best = best.to(accelerator.device)
    metrics, rows = {}, []
    for split, records in splits.items():
        predictions = predict_encoded(best, encoded[split])
        metrics[split] = finite_metrics(predictions, labels[split].numpy(), f"{stage}, {split}")
        rows.extend(
            {"uid": r.uid, "split": split, "label": r.label, "r_S": float(p)}
            for r, p in zip(records, predictions)
        )
    if accelerator.is_main_process:
        write_csv(
            out_dir / "history.csv",
            history,
            ["epoch", "step", "train_loss", *HISTORY_PARTS, "valid_mae", "seconds"],
        )
        write_csv(out_dir / "predictions.csv", rows, ["uid", "split", "label", "r_S"])
        write_json(out_dir / "metrics.json", metrics)  # last: it marks the stage finished
        if foreign_files(last):  # a user's file there: left with the resume point
            logger.warning("%s holds files videoadviser did not write; it is left", last)
        else:
            shutil.rmtree(last, ignore_errors=True)
    return {
        "metrics": metrics,
        "best_epoch": history[selection.best_epoch - 1]["epoch"],
        "history": history,
        "lambda2": weight,
        "unlabelled": len(pool),
        "predictions": rows,
    }


RESUME_DIR = "last"  # the resume point, while training runs
# the loss terms history.csv records (mean per validation window; soft_kl only when it is on)
HISTORY_PARTS = ("loss_l1", "loss_distill", "loss_soft_kl")


def _tensor_fingerprint(targets: TeacherTargets) -> str:
    """A short hash of the teacher targets, so a resume point is never used with others."""
    digest = hashlib.sha256(targets.regression.numpy().tobytes())
    if targets.logits is not None:
        digest.update(targets.logits.numpy().tobytes())
    return digest.hexdigest()[:16]


def _save_resume_point(
    folder: Path,
    config: dict[str, Any],
    model: PreTrainedModel,
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None,
    state: dict[str, Any],
) -> None:
    """Weights, optimizer, weight average, RNG and ``state`` in one atomic folder."""
    opt_tensors, opt_meta = optimizer_to_tensors(optimizer)
    other = {"optimizer": opt_tensors, "rng": rng_tensors()}
    if average is not None:
        other["average"] = {str(i): t for i, t in enumerate(average.average)}
    meta = {"kind": RESUME_KIND, "config": config, "state": state, "optimizer": opt_meta}
    save_checkpoint(
        folder, model.state_dict(), meta, other_tensors=other, kind=STUDENT_RESUME_POINT
    )


def _load_resume_point(
    folder: Path,
    config: dict[str, Any],
    model: PreTrainedModel,
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any] | None:
    """Load ``folder``'s resume point into ``model`` and ``optimizer`` if it was made by this
    very ``config``; returns its state, RNG and weight average (``None``: start afresh)."""
    if not (folder / "config.json").is_file():
        return None
    tensors, meta = load_checkpoint(folder)
    if (
        meta.get("kind") != RESUME_KIND
        or meta.get("config") != to_jsonable(config)
        or not load_optimizer(optimizer, folder, meta["optimizer"])
    ):
        logger.warning("%s was written by another configuration; starting afresh", folder)
        return None
    model.load_state_dict(tensors)
    rng = load_tensors(folder / "rng.safetensors")
    average = folder / "average.safetensors"
    saved = load_tensors(average) if average.is_file() else {}
    return {
        "state": meta["state"],
        "rng": rng,
        "average": [saved[str(i)] for i in range(len(saved))],
    }


def export_student(
    folder: Path,
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    recipe: Recipe,
    settings: StudentConfig,
    lambda2: float,
) -> None:
    """Save a plain transformers model + tokenizer (+ a metadata JSON with the ``settings`` it
    was trained with), atomically."""
    with staged_folder(folder, STUDENT_MODEL) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        write_json(
            staging / METADATA_FILE,
            {
                "kind": STUDENT_KIND,
                "version": __version__,
                "lambda2": lambda2,
                "student": settings.settings(),
                "seed": recipe.seed,
            },
        )
