"""Golden values for the step-1 and step-2 losses and the class binning."""

from __future__ import annotations

import math

import torch

from videoadviser.distillation.losses import sentiment_bins, student_loss, teacher_loss


def test_bins_round_half_to_even_and_clip() -> None:
    labels = torch.tensor([-3.4, -2.5, -0.5, 0.0, 0.5, 1.5, 2.6, 3.0])
    # round(clip(y)) + 3: -3 -> 0, -2.5 -> -2 -> 1, -0.5 -> -0 -> 3, 0 -> 3, 0.5 -> 0 -> 3,
    # 1.5 -> 2 -> 5, 2.6 -> 3 -> 6, 3 -> 6
    assert sentiment_bins(labels, 7).tolist() == [0, 1, 3, 3, 3, 5, 6, 6]
    # K = 3: classes stand for -3, 0, 3; -1.4 is nearest 0, 1.6 nearest 3
    assert sentiment_bins(torch.tensor([-3.0, -1.4, 1.6, 3.0]), 3).tolist() == [0, 1, 2, 2]
    # K = 2: classes stand for -3 and 3
    assert sentiment_bins(torch.tensor([-0.1, 0.1]), 2).tolist() == [0, 1]


def test_teacher_loss_golden() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # softmax (1/4, 3/4) and (1/2, 1/2)
    regression = torch.tensor([0.5, -1.0])
    labels = torch.tensor([3.0, -3.0])  # bins 1 and 0 with K = 2
    loss, parts = teacher_loss(logits, regression, labels, lambda1=2.0)
    ce = (-math.log(0.75) - math.log(0.5)) / 2
    l1 = (2.5 + 2.0) / 2
    assert math.isclose(parts["ce"], ce, rel_tol=1e-6)
    assert math.isclose(parts["l1"], l1, rel_tol=1e-6)
    assert math.isclose(loss.item(), ce + 2.0 * l1, rel_tol=1e-6)


def test_student_loss_golden_and_stopgrad() -> None:
    prediction = torch.tensor([1.0, -2.0], requires_grad=True)
    teacher = torch.tensor([0.0, 0.0], requires_grad=True)
    labels = torch.tensor([2.0, -2.0])
    loss, parts = student_loss(prediction, labels, teacher, lambda2=0.5)
    assert math.isclose(parts["l1"], 0.5)  # (1 + 0) / 2
    assert math.isclose(parts["distill_mse"], 2.5)  # (1 + 4) / 2
    assert math.isclose(loss.item(), 0.5 + 0.5 * 2.5)
    loss.backward()
    assert teacher.grad is None  # the teacher is a fixed target
    # d/dp: L1 -> sign(p - y) / 2 = (-0.5, 0); MSE -> 0.5 * 2 (p - t) / 2 = (0.5, -1.0)
    assert torch.allclose(prediction.grad, torch.tensor([0.0, -1.0]))


def test_lambda2_zero_is_plain_l1() -> None:
    prediction = torch.tensor([0.3, 0.1])
    labels = torch.tensor([0.0, 1.0])
    loss, _ = student_loss(prediction, labels, torch.tensor([9.0, 9.0]), lambda2=0.0)
    assert math.isclose(loss.item(), (0.3 + 0.9) / 2, rel_tol=1e-6)
