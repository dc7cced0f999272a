"""The one metrics module.

Regression metrics reproduce MMSA's ``MetricsTop`` regression metrics (the MOSI/MOSEI code path)
value for value: same keys, same clipping, the same ``np.round`` (round half to even) for the
multi-class accuracies, sklearn's weighted F1, and the same 4-decimal rounding applied to the
same numeric types (``round`` on a numpy float rounds like ``np.round``, on a Python float like
Python; we keep MMSA's types so that both agree even on ties).

Retrieval mAP follows the definition in docs/method.md ("Metrics"): cosine similarity, every
item of the other modality ranked, AP averaged once per query.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, f1_score

from videoadviser.errors import TrainingError

REGRESSION_METRIC_KEYS: tuple[str, ...] = (
    "Has0_acc_2",
    "Has0_F1_score",
    "Non0_acc_2",
    "Non0_F1_score",
    "Mult_acc_5",
    "Mult_acc_7",
    "MAE",
    "Corr",
)


def _flat(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty: metrics need at least one prediction")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _multiclass_acc(preds: np.ndarray, truth: np.ndarray) -> np.floating[Any]:
    """Share of samples whose rounded (half to even) prediction equals the rounded label."""
    return np.sum(np.round(preds) == np.round(truth)) / float(len(truth))


def seven_class_confusion(predictions: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """The 7-class confusion matrix behind Acc-7: ``(7, 7)`` counts, rows the true class and
    columns the predicted one, classes -3..3 as indices 0..6 (clipped to [-3, 3] and rounded
    half to even, exactly as Acc-7 counts them: its value is the trace over the total)."""
    preds = np.round(np.clip(_flat(predictions, "predictions"), -3.0, 3.0)).astype(int) + 3
    truth = np.round(np.clip(_flat(labels, "labels"), -3.0, 3.0)).astype(int) + 3
    if preds.shape != truth.shape:
        raise ValueError(f"predictions ({preds.size}) and labels ({truth.size}) differ in length")
    matrix = np.zeros((7, 7), dtype=np.int64)
    np.add.at(matrix, (truth, preds), 1)
    return matrix


def regression_metrics(predictions: ArrayLike, labels: ArrayLike) -> dict[str, float]:
    """MMSA regression metrics for sentiment scores in [-3, 3].

    Args:
        predictions: any shape, flattened; unclipped model outputs.
        labels: same number of elements; unclipped gold scores.

    Returns:
        ``{"Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score", "Mult_acc_5",
        "Mult_acc_7", "MAE", "Corr"}``, each rounded to 4 decimals. ``Corr`` is NaN when
        either input is constant; the ``Non0`` pair is NaN when every label is exactly 0
        (MMSA itself fails on both cases).
    """
    preds = _flat(predictions, "predictions")
    truth = _flat(labels, "labels")
    if preds.shape != truth.shape:
        raise ValueError(f"predictions ({preds.size}) and labels ({truth.size}) differ in length")

    preds_a7, truth_a7 = np.clip(preds, -3.0, 3.0), np.clip(truth, -3.0, 3.0)
    preds_a5, truth_a5 = np.clip(preds, -2.0, 2.0), np.clip(truth, -2.0, 2.0)

    mae = np.mean(np.absolute(preds - truth)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # constant input -> NaN, as MMSA
        corr = np.corrcoef(preds, truth)[0][1]
    mult_a7 = _multiclass_acc(preds_a7, truth_a7)
    mult_a5 = _multiclass_acc(preds_a5, truth_a5)

    non_zeros = np.flatnonzero(truth != 0)
    if non_zeros.size:
        nz_truth = truth[non_zeros] > 0
        nz_preds = preds[non_zeros] > 0
        non0_acc2 = accuracy_score(nz_preds, nz_truth)
        non0_f1 = f1_score(nz_truth, nz_preds, average="weighted")
    else:
        non0_acc2 = non0_f1 = float("nan")

    binary_truth = truth >= 0
    binary_preds = preds >= 0
    has0_acc2 = accuracy_score(binary_preds, binary_truth)
    has0_f1 = f1_score(binary_truth, binary_preds, average="weighted")

    raw = {
        "Has0_acc_2": has0_acc2,
        "Has0_F1_score": has0_f1,
        "Non0_acc_2": non0_acc2,
        "Non0_F1_score": non0_f1,
        "Mult_acc_5": mult_a5,
        "Mult_acc_7": mult_a7,
        "MAE": mae,
        "Corr": corr,
    }
    # round() dispatches on the value's type exactly as in MMSA; float() only afterwards.
    return {key: float(round(value, 4)) for key, value in raw.items()}


def average_precisions(
    query_emb: ArrayLike,
    query_labels: ArrayLike,
    gallery_emb: ArrayLike,
    gallery_labels: ArrayLike,
) -> np.ndarray:
    """Average precision of each query of cross-modal retrieval by cosine similarity.

    Args:
        query_emb: ``(Nq, D)`` embeddings of the query modality.
        query_labels: ``(Nq,)`` class labels.
        gallery_emb: ``(Ng, D)`` embeddings of the other modality (all of them are ranked).
        gallery_labels: ``(Ng,)`` class labels; relevant means the same label as the query.

    Returns:
        ``(Nq,)``: per query, the mean over relevant ranks j of precision@j, over the full
        ranking (ties broken by gallery order); 0 for a query with no relevant item.
    """
    q = np.asarray(query_emb, dtype=np.float64)
    g = np.asarray(gallery_emb, dtype=np.float64)
    ql = np.asarray(query_labels).reshape(-1)
    gl = np.asarray(gallery_labels).reshape(-1)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"embeddings must be (N, D) with equal D, got {q.shape} and {g.shape}")
    if len(ql) != len(q) or len(gl) != len(g):
        raise ValueError("each embedding row needs exactly one label")
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    similarity = q @ g.T  # (Nq, Ng)

    order = np.argsort(-similarity, axis=1, kind="stable")
    relevant = gl[order] == ql[:, None]  # (Nq, Ng), in ranked order
    hits = np.cumsum(relevant, axis=1)
    ranks = np.arange(1, g.shape[0] + 1)
    precision_at_hits = np.where(relevant, hits / ranks, 0.0)
    n_relevant = relevant.sum(axis=1)
    return np.divide(
        precision_at_hits.sum(axis=1),
        n_relevant,
        out=np.zeros(len(q)),
        where=n_relevant > 0,
    )  # one AP per query, appended once


def mean_average_precision(
    query_emb: ArrayLike,
    query_labels: ArrayLike,
    gallery_emb: ArrayLike,
    gallery_labels: ArrayLike,
) -> float:
    """Mean over queries of :func:`average_precisions` (docs/method.md)."""
    return float(average_precisions(query_emb, query_labels, gallery_emb, gallery_labels).mean())


def retrieval_map(
    audio_emb: ArrayLike, visual_emb: ArrayLike, labels_audio: ArrayLike, labels_visual: ArrayLike
) -> dict[str, float]:
    """Audio-visual retrieval: ``{"mAP_A2V", "mAP_V2A", "mAP_mean"}`` (docs/method.md)."""
    a2v = mean_average_precision(audio_emb, labels_audio, visual_emb, labels_visual)
    v2a = mean_average_precision(visual_emb, labels_visual, audio_emb, labels_audio)
    return {"mAP_A2V": a2v, "mAP_V2A": v2a, "mAP_mean": (a2v + v2a) / 2.0}


def finite_metrics(predictions: np.ndarray, labels: np.ndarray, stage: str) -> dict[str, float]:
    """:func:`regression_metrics` of a trained model, which must all be finite numbers.

    Raises:
        TrainingError: naming ``stage`` (such as ``"student, test"``), when a prediction is NaN
            or infinite, or a metric is undefined (Corr of constant predictions).
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(predictions))
    if bad.size:
        raise TrainingError(
            f"{stage}: {bad.size} of {predictions.size} predictions are not finite "
            f"(first at row {bad[0]}); the model diverged. Lower the learning rate or set "
            "grad_clip in the recipe"
        )
    metrics = regression_metrics(predictions, labels)
    undefined = [key for key, value in metrics.items() if not math.isfinite(value)]
    if undefined:
        constant = np.ptp(predictions) == 0
        raise TrainingError(
            f"{stage}: metric(s) {', '.join(undefined)} undefined"
            + (" (every prediction is the same value)" if constant else "")
            + "; results with them would not average over seeds. Check the split's labels and "
            "the training history"
        )
    return metrics
