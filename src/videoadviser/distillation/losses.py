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


def student_loss(
    prediction: Tensor, labels: Tensor, teacher: Tensor, lambda2: float
) -> tuple[Tensor, dict[str, float]]:
    """Step 2: ``L1(r_S, y) + lambda2 * MSE(r_S, stopgrad(r_T))``; lambda2 = 0 is the baseline.

    Args:
        prediction: (B,) student output r_S.
        labels: (B,) sentiment scores y.
        teacher: (B,) the teacher's regression logits r_T (read from its predictions file).
        lambda2: weight of the distillation term.
    """
    l1 = F.l1_loss(prediction, labels)
    mse = F.mse_loss(prediction, teacher.detach())
    return l1 + lambda2 * mse, {"l1": l1.item(), "distill_mse": mse.item()}
