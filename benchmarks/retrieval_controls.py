r"""Is +VideoAdviser's retrieval gain the teacher's knowledge, or only a softer target?

A distillation term towards any soft distribution regularises, as label smoothing does. This
runs the retrieval experiment with the real teacher's logits and with two control teachers
made from them, everything else equal (same folds, seeds, recipe, lambda):

- ``uniform``: every logit 0, so the term pulls every clip towards the uniform distribution
  (a confidence penalty; no knowledge of any clip);
- ``class-shuffled``: each training clip gets the logits of another clip of the same class in
  the same fold (a random cycle, so never its own): the class-level structure of the
  teacher's outputs is kept, what it knows about each clip is lost.

    python benchmarks/retrieval_controls.py --teacher-outputs RUN/teacher/teacher_outputs.h5 \
        --out runs/retrieval-controls [--set distill.lambda_distill=0.3]

Prints one row per teacher (valid and test mAP of +VideoAdviser, the test difference from the
baseline, ASO, the query bootstrap p) and writes ``controls.csv`` into ``--out``.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from videoadviser.retrieval.config import load_retrieval_recipe
from videoadviser.retrieval.pipeline import fold_split, prepare_retrieval_data, run_retrieval
from videoadviser.retrieval.teacher import read_teacher_outputs, write_teacher_outputs
from videoadviser.utils.io import write_csv


def control_logits(logits: np.ndarray, labels: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """``(F, N, K)`` control teacher logits from the real ones (NaN rows stay NaN)."""
    if kind == "uniform":
        return np.where(np.isnan(logits), np.nan, 0.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    out = logits.copy()
    for f in range(logits.shape[0]):
        seen = ~np.isnan(logits[f, :, 0])
        for c in np.unique(labels):
            rows = rng.permutation(np.flatnonzero(seen & (labels == c)))
            out[f, rows] = logits[f, np.roll(rows, 1)]  # a shuffled cycle: never its own
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teacher-outputs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--recipe", default="retrieval")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    recipe = load_retrieval_recipe(args.recipe, args.set)
    data = prepare_retrieval_data(recipe, progress=False)
    real = read_teacher_outputs(args.teacher_outputs, data, fold_split(recipe, data))
    teachers = {"real": args.teacher_outputs}
    for kind in ("uniform", "class-shuffled"):
        path = args.out / f"teacher_{kind}.h5"
        write_teacher_outputs(
            path,
            data.clip_ids,
            control_logits(real, data.labels, kind, recipe.seeds[0]),
            data.class_names,
        )
        teachers[kind] = path
    rows = []
    for kind, path in teachers.items():
        results = run_retrieval(recipe, args.out / kind, teacher_outputs=path, progress=False)
        runs = results["runs"]
        valid = [r["best_valid_mAP"] for r in runs if r["model"] == "videoadviser"]
        c = results["comparison"]
        rows.append(
            {
                "teacher": kind,
                "valid_mAP": statistics.mean(valid),
                "test_mAP": results["summary_test"]["videoadviser"]["mAP_mean"]["mean"],
                "baseline_test_mAP": results["summary_test"]["baseline"]["mAP_mean"]["mean"],
                "delta_points": c["delta_mAP_points"],
                "runs_better": c["runs_better"],
                "aso_epsilon_min": c["aso_epsilon_min"],
                "bootstrap_p": c["query_bootstrap"]["p_value"],
            }
        )
        print(
            f"{kind:>15}: valid {rows[-1]['valid_mAP']:.4f}, test {rows[-1]['test_mAP']:.4f} "
            f"({c['delta_mAP_points']:+.2f} points vs baseline, {c['runs_better']}/{c['runs']} "
            f"runs, ASO {c['aso_epsilon_min']:.3f}, bootstrap p {rows[-1]['bootstrap_p']:.4f})",
            flush=True,
        )
    write_csv(args.out / "controls.csv", rows, list(rows[0]))


if __name__ == "__main__":
    main()
