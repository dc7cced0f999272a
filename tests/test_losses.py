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
    assert math.isclose(parts["distill"], 2.5)  # (1 + 4) / 2
    # the baseline (lambda2 = 0) records no distillation term: it has no teacher
    assert set(student_loss(prediction, labels, teacher, lambda2=0.0)[1]) == {"l1"}
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


def test_unlabelled_clips_learn_through_the_distillation_term_alone() -> None:
    prediction = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    labels = torch.tensor([2.0, math.nan, math.nan])  # clips 2 and 3 are unlabelled
    teacher = torch.tensor([0.0, -1.0, 0.5])
    labelled = torch.tensor([True, False, False])
    loss, parts = student_loss(prediction, labels, teacher, lambda2=0.5, labelled=labelled)
    # per clip: |1 - 2| + 0.5 * 1 = 1.5; 0.5 * 1 = 0.5; 0.5 * 0 = 0 -> mean 2 / 3
    assert math.isclose(loss.item(), 2.0 / 3.0, rel_tol=1e-6)
    assert math.isclose(parts["l1"], 1.0)
    assert math.isclose(parts["distill"], 2.0 / 3.0, rel_tol=1e-6)
    loss.backward()
    # d/dp over 3 clips: (-1 + 0.5 * 2 * 1) / 3 = 0; 0.5 * 2 * (-1) / 3; 0 (and no NaN anywhere)
    assert torch.allclose(prediction.grad, torch.tensor([0.0, -1.0 / 3.0, 0.0]))
    # with lambda2 = 0 an unlabelled clip contributes nothing at all
    prediction.grad = None
    loss, _ = student_loss(prediction, labels, teacher, lambda2=0.0, labelled=labelled)
    loss.backward()
    assert prediction.grad[1:].abs().sum() == 0 and torch.isfinite(prediction.grad).all()


def test_distillation_variants_golden() -> None:
    prediction = torch.tensor([1.0, -2.0])
    labels = torch.tensor([1.0, -2.0])  # L1 to the labels is 0
    teacher = torch.tensor([0.0, 0.5])  # differences 1 and -2.5
    l1, _ = student_loss(prediction, labels, teacher, 1.0, distill="l1")
    assert math.isclose(l1.item(), (1 + 2.5) / 2)
    huber, _ = student_loss(prediction, labels, teacher, 1.0, distill="huber")
    assert math.isclose(huber.item(), (0.5 + (2.5 - 0.5)) / 2)  # 0.5 d^2 inside 1, |d| - 0.5 out


def test_soft_class_term_golden_and_zero_when_the_student_matches() -> None:
    from videoadviser.distillation.losses import class_centres, soft_class_kl

    assert class_centres(7).tolist() == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    # K = 2 (centres -3 and 3), tau = 1, r_S = 0: the student's classes are (1/2, 1/2)
    teacher_logits = torch.tensor([[0.0, math.log(3.0)]])  # the teacher's (1/4, 3/4)
    kl = soft_class_kl(torch.tensor([0.0]), teacher_logits, temperature=1.0)
    expected = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert math.isclose(kl.item(), expected, rel_tol=1e-5)
    # a teacher whose logits are the student's own -(r - c)^2 gives KL 0 at any temperature
    r = torch.tensor([0.7])
    own = -((r[:, None] - class_centres(7)) ** 2)
    for tau in (1.0, 2.0):
        assert soft_class_kl(r, own, tau).abs().item() < 1e-6
    prediction = torch.tensor([0.0], requires_grad=True)
    loss, parts = student_loss(
        prediction, torch.tensor([0.0]), torch.tensor([0.0]), 1.0,
        teacher_logits=teacher_logits, soft_weight=2.0, temperature=1.0,
    )  # fmt: skip
    assert math.isclose(loss.item(), 2.0 * expected, rel_tol=1e-5) and "soft_kl" in parts
    loss.backward()
    assert prediction.grad.item() > 0 or prediction.grad.item() < 0  # the term moves r_S
