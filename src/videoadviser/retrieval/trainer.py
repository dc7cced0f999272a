"""Train one retrieval model on one fold: the baseline, or with the VideoAdviser term.

Model selection is on the validation clips only (a class-balanced share of the fold's training
part): the epoch with the best validation mAP (mean of A->V and V->A) is kept, with patience.
The test clips of the fold are embedded once, by the selected model.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import torch

from videoadviser.evaluation.metrics import retrieval_map
from videoadviser.retrieval.model import RetrievalArchitecture, RetrievalModel, retrieval_loss
from videoadviser.retrieval.vegas import RetrievalSet
from videoadviser.utils.engine import Selection, check_finite

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalTraining:
    """How a retrieval model trains (the ``[model]`` and ``[distill]`` recipe sections)."""

    hidden: int = 256
    dim: int = 64
    dropout: float = 0.3
    epochs: int = 80
    patience: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 0.2
    triplet_weight: float = 1.0
    lambda_distill: float = 0.0  # 0: the baseline
    temperature: float = 2.0


@dataclass
class TrainedRetrieval:
    """The selected model, its validation history, and what selection kept."""

    model: RetrievalModel
    history: list[dict[str, float]]
    best_epoch: int
    best_valid_map: float


def _tensors(data: RetrievalSet, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(data.audio[rows]),
        torch.from_numpy(data.visual[rows]),
        torch.from_numpy(data.labels[rows]),
    )


@torch.no_grad()
def embed(model: RetrievalModel, data: RetrievalSet, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Common-space embeddings of ``rows``: audio (n, D), visual (n, D) float32 numpy."""
    model.eval()
    audio, visual, _ = _tensors(data, rows)
    a, v = model(audio, visual)
    return a.numpy(), v.numpy()


def evaluate(model: RetrievalModel, data: RetrievalSet, rows: np.ndarray) -> dict[str, float]:
    """``retrieval_map`` of ``rows`` against themselves (A->V, V->A, mean)."""
    a, v = embed(model, data, rows)
    return retrieval_map(a, v, data.labels[rows], data.labels[rows])


def train_retrieval(
    data: RetrievalSet,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    settings: RetrievalTraining,
    seed: int,
    teacher_logits: np.ndarray | None = None,
    stage: str = "retrieval",
) -> TrainedRetrieval:
    """Train on ``train_rows``, select on ``valid_rows``.

    Args:
        teacher_logits: (N, K) the teacher's class logits for every clip of ``data`` (rows
            outside ``train_rows`` are never read); needed when ``settings.lambda_distill > 0``.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    arch = RetrievalArchitecture(
        audio_dim=data.audio.shape[1],
        visual_dim=data.visual.shape[1],
        hidden=settings.hidden,
        dim=settings.dim,
        num_classes=data.num_classes,
        dropout=settings.dropout,
    )
    model = RetrievalModel(arch)
    audio, visual, labels = _tensors(data, train_rows)
    model.audio.set_statistics(audio)
    model.visual.set_statistics(visual)
    distill = settings.lambda_distill > 0
    if distill:
        if teacher_logits is None:
            raise ValueError("lambda_distill > 0 needs the teacher's logits")
        teacher = torch.from_numpy(np.asarray(teacher_logits, dtype=np.float32)[train_rows])
        if not torch.isfinite(teacher).all():
            raise ValueError("the teacher's logits hold NaN for a training clip of this fold")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    selection = Selection(patience=settings.patience)
    best_state = copy.deepcopy(model.state_dict())
    history = []
    n = len(train_rows)
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for step, start in enumerate(range(0, n, settings.batch_size)):
            batch = order[start : start + settings.batch_size]
            if len(batch) < 2:
                continue
            a, v = model(audio[batch], visual[batch])
            loss, _ = retrieval_loss(
                model,
                a,
                v,
                labels[batch],
                settings.margin,
                settings.triplet_weight,
                teacher[batch] if distill else None,
                settings.lambda_distill,
                settings.temperature,
            )
            check_finite(loss.item(), "loss", stage, epoch, step, "nothing (kept in memory)")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        valid = evaluate(model, data, valid_rows)
        history.append({"epoch": epoch, "train_loss": total / n, **valid})
        # Selection keeps the lowest error: 1 - mAP
        if selection.update(epoch, 1.0 - valid["mAP_mean"]):
            best_state = copy.deepcopy(model.state_dict())
        if selection.should_stop(epoch):
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainedRetrieval(model, history, selection.best_epoch, 1.0 - selection.best_mae)
