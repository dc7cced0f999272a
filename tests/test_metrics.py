"""Golden tests for the MMSA regression metrics and retrieval mAP (values computed by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videoadviser.evaluation.metrics import (
    REGRESSION_METRIC_KEYS,
    mean_average_precision,
    regression_metrics,
    retrieval_map,
    seven_class_confusion,
)

PREDS = [0.5, -0.5, 1.5, 2.5, -3.7, 0.0]
LABELS = [0.0, -1.0, 2.0, 2.6, -3.0, 0.4]


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy)


def test_golden_values_by_hand() -> None:
    m = regression_metrics(PREDS, LABELS)
    assert tuple(m) == REGRESSION_METRIC_KEYS
    # |errors| = .5 .5 .5 .1 .7 .4 -> 2.7 / 6
    assert m["MAE"] == 0.45
    # acc-7 after clipping to [-3, 3] and half-to-even rounding: preds 0 -0 2 2 -3 0,
    # labels 0 -1 2 3 -3 0 -> 4 of 6 equal.
    assert m["Mult_acc_7"] == 0.6667
    # acc-5 after clipping to [-2, 2]: preds 0 -0 2 2 -2 0, labels 0 -1 2 2 -2 0 -> 5 of 6.
    assert m["Mult_acc_5"] == 0.8333
    # Has0: label 0 counts as non-negative, prediction 0.0 too -> all six agree.
    assert m["Has0_acc_2"] == 1.0
    assert m["Has0_F1_score"] == 1.0
    # Non0 drops the exact-0 label: truth F T T F T vs preds (>0) F T T F F -> 4/5.
    assert m["Non0_acc_2"] == 0.8
    # weighted F1: positives P=1 R=2/3 F1=.8 (3 samples), negatives P=2/3 R=1 F1=.8 (2).
    assert m["Non0_F1_score"] == 0.8
    assert m["Corr"] == round(_pearson(PREDS, LABELS), 4)


def test_half_to_even_rounding_in_class_accuracy() -> None:
    # np.round(0.5) = 0, np.round(1.5) = 2, np.round(2.5) = 2, np.round(-2.5) = -2
    m = regression_metrics([0.5, 1.5, 2.5, -2.5], [0.0, 2.0, 2.0, -2.0])
    assert m["Mult_acc_7"] == 1.0
    # half-up rounding would give 1, 2, 3, -2 (or -3) and miss at least two of them
    m = regression_metrics([0.5, 2.5], [1.0, 3.0])
    assert m["Mult_acc_7"] == 0.0


def test_five_class_clips_before_rounding() -> None:
    # 2.9 and 2.2 are both clipped to 2 under acc-5 but round to 3 and 2 under acc-7.
    m = regression_metrics([2.9, -2.6], [2.2, -3.0])
    assert m["Mult_acc_5"] == 1.0
    assert m["Mult_acc_7"] == 0.5


def test_zero_labels_split_has0_and_non0() -> None:
    # Labels exactly 0: Has0 counts them positive; Non0 drops them.
    preds = [-0.1, 0.3, -0.4, 0.2]
    labels = [0.0, 0.0, -1.0, 1.0]
    m = regression_metrics(preds, labels)
    assert m["Has0_acc_2"] == 0.75  # the first (pred -0.1 vs label 0 -> non-negative) is wrong
    assert m["Non0_acc_2"] == 1.0
    assert m["Non0_F1_score"] == 1.0


def test_f1_is_weighted_by_support() -> None:
    # truth >= 0: T T T F; preds >= 0: T T F F
    m = regression_metrics([1.0, 1.0, -1.0, -1.0], [1.0, 2.0, 3.0, -1.0])
    # class T: P=1 R=2/3 F1=0.8 (3); class F: P=1/2 R=1 F1=2/3 (1) -> (2.4 + 0.6667)/4
    assert m["Has0_F1_score"] == round((3 * 0.8 + 2 / 3) / 4, 4)
    assert m["Has0_acc_2"] == 0.75


def test_predictions_are_not_clipped_for_mae_and_corr() -> None:
    m = regression_metrics([10.0, -10.0], [3.0, -3.0])
    assert m["MAE"] == 7.0
    assert m["Corr"] == 1.0


def test_four_decimal_rounding() -> None:
    m = regression_metrics([0.0, 0.0, 0.0], [1.0, 1.0, -1.0])
    assert m["MAE"] == 1.0
    assert m["Has0_acc_2"] == 0.6667  # 2/3 rounded


def test_constant_predictions_give_nan_corr() -> None:
    m = regression_metrics([0.5, 0.5, 0.5], [1.0, -1.0, 0.5])  # exactly constant
    assert math.isnan(m["Corr"])


def test_all_zero_labels_give_nan_non0() -> None:
    m = regression_metrics([0.3, -0.2], [0.0, 0.0])
    assert math.isnan(m["Non0_acc_2"]) and math.isnan(m["Non0_F1_score"])
    assert m["Has0_acc_2"] == 0.5


def test_shapes_are_flattened_and_checked() -> None:
    a = regression_metrics(np.array(PREDS).reshape(6, 1), np.array(LABELS))
    assert a == regression_metrics(PREDS, LABELS)
    with pytest.raises(ValueError, match="differ in length"):
        regression_metrics([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        regression_metrics([float("nan")], [1.0])


def test_random_inputs_against_plain_python() -> None:
    rng = np.random.default_rng(0)
    preds = rng.normal(0, 1.5, 200)
    labels = np.round(rng.uniform(-3, 3, 200) * 5) / 5  # multiples of 0.2, some exactly 0
    m = regression_metrics(preds, labels)
    n = len(preds)
    assert m["MAE"] == round(sum(abs(p - y) for p, y in zip(preds, labels)) / n, 4)
    acc2 = sum((p >= 0) == (y >= 0) for p, y in zip(preds, labels)) / n
    assert m["Has0_acc_2"] == round(acc2, 4)
    nz = [(p, y) for p, y in zip(preds, labels) if y != 0]
    assert m["Non0_acc_2"] == round(sum((p > 0) == (y > 0) for p, y in nz) / len(nz), 4)


def test_map_golden_by_hand() -> None:
    audio = [[1.0, 0.0], [0.0, 1.0]]
    audio_labels = ["dog", "drum"]
    visual = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]
    visual_labels = ["dog", "drum", "dog"]
    # query 0 ranks v0 (dog), v1 (drum), v2 (dog): AP = (1/1 + 2/3) / 2 = 0.8333
    # query 1 ranks v2 (dog), v1 (drum), v0 (dog): AP = 1/2
    a2v = mean_average_precision(audio, audio_labels, visual, visual_labels)
    assert a2v == pytest.approx((5 / 6 + 0.5) / 2)
    # V->A: v0 -> a0 dog (1), v1 -> ranks a0 (dog) then a1 (drum): AP 1/2, v2 -> a1, a0: AP 1/2
    result = retrieval_map(audio, visual, audio_labels, visual_labels)
    assert result["mAP_V2A"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert result["mAP_mean"] == pytest.approx((result["mAP_A2V"] + result["mAP_V2A"]) / 2)


def test_map_is_one_for_perfect_separation() -> None:
    emb = np.eye(3)[[0, 0, 1, 2, 2]]
    labels = [0, 0, 1, 2, 2]
    assert mean_average_precision(emb, labels, emb, labels) == 1.0


def test_finite_metrics_refuses_diverged_or_constant_predictions() -> None:
    from videoadviser.errors import TrainingError
    from videoadviser.evaluation.metrics import finite_metrics

    labels = np.array([-2.0, 0.5, 1.0, 2.5])
    assert finite_metrics(np.array([-1.0, 0.0, 1.0, 2.0]), labels, "student, test")["MAE"] > 0
    with pytest.raises(TrainingError, match=r"student, test: 1 of 4 predictions are not finite"):
        finite_metrics(np.array([-1.0, np.nan, 1.0, 2.0]), labels, "student, test")
    with pytest.raises(TrainingError, match=r"Corr undefined \(every prediction is the same"):
        finite_metrics(np.full(4, 0.3), labels, "teacher, valid")


def _brute_force_ap(query: np.ndarray, q_label: int, gallery: np.ndarray, labels: list) -> float:
    """AP by the definition: rank by cosine (ties: gallery order), precision at each hit."""
    sims = [float(np.dot(query, g) / (np.linalg.norm(query) * np.linalg.norm(g))) for g in gallery]
    ranking = sorted(range(len(gallery)), key=lambda j: (-sims[j], j))
    hits, precisions = 0, []
    for rank, j in enumerate(ranking, start=1):
        if labels[j] == q_label:
            hits += 1
            precisions.append(hits / rank)
    return sum(precisions) / len(precisions) if precisions else 0.0


def test_average_precisions_match_a_brute_force_reference() -> None:
    from videoadviser.evaluation.metrics import average_precisions

    rng = np.random.default_rng(0)
    queries = rng.normal(size=(20, 4))
    gallery = rng.normal(size=(30, 4))
    gallery[5] = gallery[7] * 2.0  # a tie in cosine
    q_labels = rng.integers(0, 3, 20)
    g_labels = rng.integers(0, 3, 30).tolist()
    got = average_precisions(queries, q_labels, gallery, g_labels)
    expected = [_brute_force_ap(q, int(y), gallery, g_labels) for q, y in zip(queries, q_labels)]
    assert got == pytest.approx(expected)


def test_ties_are_broken_by_gallery_order_by_hand() -> None:
    from videoadviser.evaluation.metrics import average_precisions

    # all three gallery items tie; order v0 (drum), v1 (dog), v2 (dog): AP = (1/2 + 2/3) / 2
    gallery = [[1.0, 0.0], [2.0, 0.0], [0.5, 0.0]]
    ap = average_precisions([[1.0, 0.0]], ["dog"], gallery, ["drum", "dog", "dog"])
    assert ap.tolist() == pytest.approx([(1 / 2 + 2 / 3) / 2])
    # no relevant item: AP 0 for that query, and the query still counts in the mean
    lonely = average_precisions([[1.0, 0.0]], ["cat"], gallery, ["drum", "dog", "dog"])
    assert lonely.tolist() == [0.0]


def test_seven_class_confusion_counts_what_acc7_counts() -> None:
    labels = np.array([-3.4, -2.5, 0.4, 0.5, 1.5, 2.6, 3.0])
    preds = np.array([-2.9, -1.6, -0.4, 1.4, 1.5, 9.0, 2.4])
    matrix = seven_class_confusion(preds, labels)
    # by hand: true -3->-3, -2->-2, 0->0, 0 (0.5 rounds to even)->1, 2->2, 3->3, 3->2
    expected = np.zeros((7, 7), dtype=int)
    for true, pred in [(-3, -3), (-2, -2), (0, 0), (0, 1), (2, 2), (3, 3), (3, 2)]:
        expected[true + 3, pred + 3] += 1
    np.testing.assert_array_equal(matrix, expected)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(
        regression_metrics(preds, labels)["Mult_acc_7"], abs=1e-4
    )
