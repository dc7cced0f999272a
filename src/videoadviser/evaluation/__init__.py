"""Evaluation: the field's regression metrics (MMSA) and retrieval mAP."""

from videoadviser.evaluation.metrics import (
    REGRESSION_METRIC_KEYS,
    mean_average_precision,
    regression_metrics,
    retrieval_map,
)

__all__ = [
    "REGRESSION_METRIC_KEYS",
    "mean_average_precision",
    "regression_metrics",
    "retrieval_map",
]
