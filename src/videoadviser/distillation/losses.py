"""Distillation losses as small pure functions (golden-tested in tests/test_losses.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sentiment_bins(labels: Tensor, num_classes: int = 7) -> Tensor:
    """Class index of each label, ``labels`` (B,) float -> (B,) int64 in [0, K).

    The K classes stand for scores evenly spaced over [-3, 3]. For odd K the scaled score is
    rounded around 0, ``round(clip(y, -3, 3) * (K - 1) / 6) + (K - 1) / 2``, which for K = 7 is
    exactly ``round(clip(y, -3, 3)) + 3`` with the half-to-even rounding of MMSA's Acc-7.
    """
    scaled = labels.clamp(-3.0, 3.0) * (num_classes - 1) / 6.0
    if num_classes % 2:
        return (torch.round(scaled) + (num_classes - 1) // 2).long()
    return torch.round(scaled + (num_classes - 1) / 2).long()


def teacher_loss(
    logits: Tensor, regression: Tensor, labels: Tensor, lambda1: float
) -> tuple[Tensor, dict[str, float]]:
    """Step 1: ``CE(z, bin(y)) + lambda1 * L1(r_T, y)``.

    Args:
        logits: (B, K) classification logits z.
        regression: (B,) regression logit r_T.
        labels: (B,) sentiment scores y.
        lambda1: weight of the regression term.

    Returns:
        The loss and its parts (as floats, for logging).
    """
    ce = F.cross_entropy(logits, sentiment_bins(labels, logits.shape[-1]))
    l1 = F.l1_loss(regression, labels)
    return ce + lambda1 * l1, {"ce": ce.item(), "l1": l1.item()}


DISTILL_LOSSES: tuple[str, ...] = ("mse", "l1", "huber")


def class_centres(num_classes: int, device: torch.device | None = None) -> Tensor:
    """The scores the K classes stand for, evenly spaced over [-3, 3]: ``(K,)``."""
    return torch.linspace(-3.0, 3.0, num_classes, device=device)


def soft_class_kl(prediction: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Per-clip soft-class term ``tau^2 KL(softmax(z_T / tau) || softmax(u_S / tau))``: ``(B,)``.

    The student has one output, so its class logits are ``u_k = -(r_S - c_k)^2``, the negative
    squared distance of ``r_S`` (B,) to each class centre ``c_k``; ``teacher_logits`` (B, K)
    are the teacher's z. ``tau^2`` keeps the gradient's scale independent of ``tau``.
    """
    centres = class_centres(teacher_logits.shape[-1], prediction.device)
    return kl_distillation(-((prediction[:, None] - centres) ** 2), teacher_logits, temperature)


def kl_distillation(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Per-item ``tau^2 KL(softmax(z_T / tau) || softmax(z_S / tau))``: ``(B,)``.

    Args:
        student_logits, teacher_logits: (B, K); the teacher's are a fixed target (no gradient).
        temperature: tau; ``tau^2`` keeps the gradient's scale independent of it (Hinton et al.).
    """
    target = F.log_softmax(teacher_logits.detach().float() / temperature, dim=-1)
    student = F.log_softmax(student_logits.float() / temperature, dim=-1)
    return (target.exp() * (target - student)).sum(-1) * temperature**2


def student_loss(
    prediction: Tensor,
    labels: Tensor,
    teacher: Tensor,
    lambda2: float,
    labelled: Tensor | None = None,
    distill: str = "mse",
    teacher_logits: Tensor | None = None,
    soft_weight: float = 0.0,
    temperature: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """Step 2, per clip ``[labelled] L1(r_S, y) + lambda2 D(r_S, stopgrad(r_T))``, batch mean.

    ``D`` is the paper's MSE (``distill="mse"``), or L1 or Huber (delta 1). An unlabelled
    (transfer-set) clip has the distillation term alone. With ``soft_weight`` > 0 the
    soft-class term :func:`soft_class_kl` is added for every clip. ``lambda2 = 0`` on labelled
    clips is the plain-L1 baseline.

    Args:
        prediction: (B,) student output r_S.
        labels: (B,) sentiment scores y (any finite value where ``labelled`` is False).
        teacher: (B,) the teacher's regression logits r_T (read from its predictions file).
        lambda2: weight of the distillation term.
        labelled: (B,) bool, False for transfer-set clips; ``None``: every clip is labelled.
        teacher_logits: (B, K) the teacher's class logits z, for the soft-class term.
    """
    if labelled is None:
        labelled = torch.ones_like(prediction, dtype=torch.bool)
    target = teacher.detach()
    # a transfer clip's label (NaN) must not reach the graph: NaN * 0 in a backward is NaN
    labels = torch.where(labelled, labels, torch.zeros_like(labels))
    if distill == "mse":
        d = (prediction - target) ** 2
    elif distill == "l1":
        d = (prediction - target).abs()
    elif distill == "huber":
        d = F.huber_loss(prediction, target, reduction="none", delta=1.0)
    else:
        raise ValueError(f"distill {distill!r} is not one of {', '.join(DISTILL_LOSSES)}")
    supervised = torch.where(labelled, (prediction - labels).abs(), torch.zeros_like(d))
    per_clip = supervised + lambda2 * d
    parts = {"l1": supervised.sum().item() / max(1, int(labelled.sum()))}
    if lambda2 > 0:  # the baseline has no teacher: nothing to report
        parts["distill"] = d.mean().item()  # the term before lambda2 (its kind: ``distill``)
    if soft_weight > 0:
        if teacher_logits is None:
            raise ValueError("the soft-class term needs the teacher's class logits")
        kl = soft_class_kl(prediction, teacher_logits, temperature)
        per_clip = per_clip + soft_weight * kl
        parts["soft_kl"] = kl.mean().item()
    return per_clip.mean(), parts
