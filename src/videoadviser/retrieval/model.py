"""The audio-visual retrieval model and its training losses.

Architecture (the field's two-branch design, as in TNN-C-CCA, cross-triplet and DCLMA): an
audio encoder and a visual encoder, each ``standardise -> Linear -> ReLU -> dropout -> Linear``,
map clip-level features into one D-dimensional common space; items are ranked by cosine
similarity there. A linear classifier shared by both modalities reads the common space during
training only (the label-space term), so it costs nothing at inference.

Training loss (:func:`retrieval_loss`), batch of B clips, embeddings ``a, v`` (B, D):

- label space: ``CE(W a, y) + CE(W v, y)``, one classifier for both modalities, which pulls both
  towards the same class regions (DCLMA's and the deep label-space methods' term);
- cross-modal triplets: for every audio anchor, every visual positive (same class) and negative
  (other class) in the batch, ``max(0, m - cos(a, v+) + cos(a, v-))``, and the same with visual
  anchors (the cross-triplet term of TNN-C-CCA), averaged over the triplets that violate the
  margin;
- VideoAdviser (training only): ``lambda * tau^2 * KL(softmax(z_T / tau) || softmax(W e / tau))``
  for ``e`` in ``{a, v}``, where ``z_T`` are the teacher's class logits for the clip (it saw the
  clip's frames). With ``lambda = 0`` this is the baseline, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videoadviser.distillation.losses import kl_distillation
from videoadviser.utils.checkpoint import load_checkpoint


class Encoder(nn.Module):
    """Clip features ``(B, F)`` -> common-space embedding ``(B, D)``.

    The input is standardised with statistics of the training clips, kept as buffers, so the
    model alone serves (no separate scaler file).
    """

    def __init__(self, in_dim: int, hidden: int, dim: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )

    def set_statistics(self, features: Tensor) -> None:
        """Standardise with the mean and std of ``features`` (N, F), the training clips."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-4))

    def forward(self, features: Tensor) -> Tensor:
        return self.net((features - self.mean) / self.std)


@dataclass(frozen=True)
class RetrievalArchitecture:
    audio_dim: int = 128
    visual_dim: int = 1024
    hidden: int = 256
    dim: int = 64
    num_classes: int = 10
    dropout: float = 0.3


class RetrievalModel(nn.Module):
    """Two encoders into a common space, and the training-only shared label classifier."""

    def __init__(self, arch: RetrievalArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.audio = Encoder(arch.audio_dim, arch.hidden, arch.dim, arch.dropout)
        self.visual = Encoder(arch.visual_dim, arch.hidden, arch.dim, arch.dropout)
        self.classifier = nn.Linear(arch.dim, arch.num_classes)

    def forward(self, audio: Tensor, visual: Tensor) -> tuple[Tensor, Tensor]:
        """audio (B, Fa), visual (B, Fv) -> embeddings (B, D), (B, D)."""
        return self.audio(audio), self.visual(visual)

    def inference_modules(self) -> list[nn.Module]:
        """What serves retrieval (the classifier is for training only)."""
        return [self.audio, self.visual]


def cross_triplet(anchor: Tensor, other: Tensor, labels: Tensor, margin: float) -> Tensor:
    """Batch-all cross-modal triplet loss, anchors in one modality, items in the other.

    Args:
        anchor, other: (B, D) embeddings of the same B clips in two modalities.
        labels: (B,) class indices.
        margin: cosine margin m.

    Returns:
        The mean of ``max(0, m - cos(a_i, o_p) + cos(a_i, o_n))`` over the (i, p, n) with
        ``y_p = y_i != y_n`` whose hinge is positive (0 when none is).
    """
    sim = F.normalize(anchor, dim=-1) @ F.normalize(other, dim=-1).T  # (B, B)
    same = labels[:, None] == labels[None, :]
    hinge = margin - sim[:, :, None] + sim[:, None, :]  # (i, p, n)
    valid = same[:, :, None] & ~same[:, None, :]
    losses = F.relu(hinge)[valid]
    active = losses > 0
    return losses[active].mean() if active.any() else sim.sum() * 0.0


def retrieval_loss(
    model: RetrievalModel,
    audio_emb: Tensor,
    visual_emb: Tensor,
    labels: Tensor,
    margin: float,
    triplet_weight: float,
    teacher_logits: Tensor | None = None,
    lambda_distill: float = 0.0,
    temperature: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """The training loss of the module docstring; returns it and its parts (floats).

    Args:
        audio_emb, visual_emb: (B, D) embeddings; labels (B,) class indices.
        teacher_logits: (B, K) the teacher's class logits for these clips (VideoAdviser).
        lambda_distill: weight of the distillation term (0: the baseline).
    """
    label_space = F.cross_entropy(model.classifier(audio_emb), labels) + F.cross_entropy(
        model.classifier(visual_emb), labels
    )
    triplet = cross_triplet(audio_emb, visual_emb, labels, margin) + cross_triplet(
        visual_emb, audio_emb, labels, margin
    )
    loss = label_space + triplet_weight * triplet
    parts = {"label_space": label_space.item(), "triplet": triplet.item()}
    if lambda_distill > 0:
        if teacher_logits is None:
            raise ValueError("the distillation term needs the teacher's class logits")
        kd = sum(
            kl_distillation(model.classifier(e), teacher_logits, temperature).mean()
            for e in (audio_emb, visual_emb)
        )
        loss = loss + lambda_distill * kd
        parts["distill_kl"] = float(kd.detach())
    return loss, parts


def load_retrieval_model(folder: str | Path) -> RetrievalModel:
    """A retrieval model saved by ``videoadviser retrieval run`` (``<stage>/model``)."""
    tensors, config = load_checkpoint(folder)
    model = RetrievalModel(RetrievalArchitecture(**config["architecture"]))
    model.load_state_dict(tensors)
    return model.eval()
