"""The retrieval model's losses (golden values) and the VideoAdviser term's reach."""

from __future__ import annotations

import math

import pytest
import torch

from videoadviser.distillation.losses import kl_distillation
from videoadviser.retrieval.model import (
    RetrievalArchitecture,
    RetrievalModel,
    cross_triplet,
    retrieval_loss,
)


def test_cross_triplet_golden_value() -> None:
    # anchors a0 (class 0), a1 (class 1); items o0 (class 0), o1 (class 1)
    anchor = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    other = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 1])
    # cos(a0,o0)=1/sqrt2, cos(a0,o1)=1; cos(a1,o1)=0, cos(a1,o0)=1/sqrt2
    # triplets: (a0,o0,o1): 0.2 - 0.7071 + 1 = 0.4929; (a1,o1,o0): 0.2 - 0 + 0.7071 = 0.9071
    s = 1 / math.sqrt(2)
    expected = ((0.2 - s + 1) + (0.2 + s)) / 2
    assert cross_triplet(anchor, other, labels, 0.2).item() == pytest.approx(expected, abs=1e-6)
    # with a margin no triplet violates, the loss is 0 and still differentiable
    far = cross_triplet(torch.eye(2), torch.eye(2), labels, 0.5)
    assert far.item() == 0.0


def test_kl_distillation_golden_value() -> None:
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # softmax -> (0.75, 0.25)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert kl_distillation(student, teacher, 1.0).item() == pytest.approx(expected, abs=1e-6)
    # tau^2 scaling; at tau = 2 the teacher's distribution is softmax(log3/2, 0)
    p = 1 / (1 + 3**-0.5)
    expected_t2 = 4 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
    assert kl_distillation(student, teacher, 2.0).item() == pytest.approx(expected_t2, abs=1e-6)


def _batch() -> tuple[RetrievalModel, torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = RetrievalModel(
        RetrievalArchitecture(audio_dim=6, visual_dim=5, hidden=8, dim=4, num_classes=3)
    )
    a, v = model(torch.randn(6, 6), torch.randn(6, 5))
    return model, a, v, torch.tensor([0, 1, 2, 0, 1, 2])


def test_baseline_loss_ignores_the_teacher() -> None:
    model, a, v, labels = _batch()
    base, parts = retrieval_loss(model, a, v, labels, 0.2, 1.0)
    with_teacher, _ = retrieval_loss(model, a, v, labels, 0.2, 1.0, torch.randn(6, 3), 0.0)
    assert base.item() == with_teacher.item()
    assert set(parts) == {"label_space", "triplet"}


def test_distillation_term_moves_the_loss_and_needs_logits() -> None:
    model, a, v, labels = _batch()
    teacher = torch.randn(6, 3, requires_grad=True)
    base, _ = retrieval_loss(model, a, v, labels, 0.2, 1.0)
    total, parts = retrieval_loss(model, a, v, labels, 0.2, 1.0, teacher, 0.5, 2.0)
    assert total.item() == pytest.approx(base.item() + 0.5 * parts["distill_kl"], rel=1e-5)
    total.backward()
    assert teacher.grad is None  # the teacher's logits are a fixed target
    with pytest.raises(ValueError, match="needs the teacher's class logits"):
        retrieval_loss(model, a, v, labels, 0.2, 1.0, None, 0.5)


def test_the_classifier_does_not_serve() -> None:
    model = RetrievalModel(
        RetrievalArchitecture(audio_dim=6, visual_dim=5, hidden=8, dim=4, num_classes=3)
    )
    serving = {id(p) for module in model.inference_modules() for p in module.parameters()}
    assert not serving & {id(p) for p in model.classifier.parameters()}
    assert serving | {id(p) for p in model.classifier.parameters()} == {
        id(p) for p in model.parameters()
    }
