"""The run report: one self-contained HTML page per run folder (``report.html``).

``videoadviser run`` writes it at the end; ``videoadviser report RUN_DIR`` writes it again from
the files a run leaves (``results.json``, each seed's ``history.csv`` and predictions files),
so it can be made for any finished run. It holds:

- the comparison table, every model of every seed and their mean +/- std (test split);
- each distilled student against the baseline: MAE change, seeds better, both bootstraps, ASO;
- per-seed test MAE of every model;
- training curves: validation MAE per epoch of the teacher and of each student, every seed,
  and the loss terms (teacher CE and L1; student L1, distillation, soft KL) of the first seed;
- predicted against true scores on the test split, and the 7-class confusion matrix (the one
  behind Acc-7), of each model for the first seed;
- the transfer curve (``curve.json``, written by ``benchmarks/transfer_curve.py --out RUN``)
  and the inference cost (``inference_cost.json``, by ``benchmarks/inference_cost.py``) when
  the run folder has them, and the seconds each stage took.

Figures are drawn with matplotlib and inlined as base64 PNG; a Content-Security-Policy forbids
the page any request, so it opens offline and never reaches the network.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videoadviser.errors import DataError
from videoadviser.evaluation.metrics import seven_class_confusion
from videoadviser.pipeline import MODELS, TABLE_COLUMNS, model_label, student_folder
from videoadviser.utils.io import read_json, read_user_text, write_text

REPORT_FILE = "report.html"
SHORT = {
    "teacher": "teacher",
    "student_distilled": "distilled",
    "student_baseline": "baseline",
    "student_transfer": "distilled + pool",
}
COLOURS = {
    "teacher": "#4c72b0",
    "student_distilled": "#dd8452",
    "student_baseline": "#55a868",
    "student_transfer": "#c44e52",
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.mean td { font-weight: bold; background: #f4f4f4; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def _read_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read_user_text(path), newline="")))


def finish_advice(run_dir: Path) -> str:
    """What to do about a damaged or partial run folder."""
    return (
        f"run `videoadviser run --out {run_dir}` again, with the recipe and --seeds it was "
        "made with, to finish it (finished stages are reused)"
    )


def _entry(results: dict[str, Any], keys: Sequence[str], path: Path, advice: str) -> Any:
    """``results[keys[0]][keys[1]]...``, or a DataError naming the missing entry."""
    node: Any = results
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = "".join(f"[{k!r}]" for k in keys[: depth + 1])
            raise DataError(f"{path}: no entry {where}; the file is incomplete: {advice}")
        node = node[key]
    return node


def check_results(results: Any, path: Path, advice: str) -> dict[str, Any]:
    """``results`` (a run's results.json) if it holds every entry the report reads.

    Raises:
        DataError: naming ``path`` and the first missing or malformed entry, then ``advice``.
    """
    if not isinstance(results, dict):
        raise DataError(
            f"{path}: holds a JSON {type(results).__name__}, not the results object: {advice}"
        )
    seeds, models = (_entry(results, [key], path, advice) for key in ("seeds", "models"))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise DataError(f"{path}: 'seeds' is {seeds!r}, not a list of seeds: {advice}")
    if not models or not isinstance(models, list) or not set(models) <= set(MODELS):
        raise DataError(f"{path}: 'models' is {models!r}, not a list from {MODELS}: {advice}")
    for model in models:
        for key in (k for _, k in TABLE_COLUMNS):
            for seed in seeds:
                _entry(results, ["per_seed", str(seed), model, "test", key], path, advice)
            _entry(results, ["summary_test", model, key, "mean"], path, advice)
    _entry(results, ["comparisons"], path, advice)
    return results


def _figure(draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    """A matplotlib figure drawn by ``draw(figure)`` as an inline ``<img>`` (base64 PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=size, dpi=100)
    try:
        draw(figure)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _per_model_figure(run: RunFiles, panel: Callable[[Any, str, int], None], height: float) -> str:
    """One panel per model of the run, side by side: ``panel(axis, model, index)`` draws each."""

    def draw(figure: Any) -> None:
        for i, model in enumerate(run.models):
            panel(figure.add_subplot(1, len(run.models), i + 1), model, i)

    return _figure(draw, (3.2 * len(run.models), height))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], mean_rows: int = 0) -> str:
    """An HTML table; the last ``mean_rows`` rows are styled as summaries."""
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)]
    for i, row in enumerate(rows):
        css = ' class="mean"' if i >= len(rows) - mean_rows else ""
        cells = "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
        out.append(f"<tr{css}>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


class RunFiles:
    """What a finished run folder holds, read once: results, histories and predictions."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir)
        results = self.dir / "results.json"
        advice = finish_advice(self.dir)
        if not results.is_file():
            raise DataError(
                f"{self.dir}: no results.json; is this a finished videoadviser run? If the run "
                f"stopped before its end, {advice}"
            )
        try:
            loaded = read_json(results)
        except DataError as error:
            raise DataError(f"{error}: {advice}") from None
        self.results: dict[str, Any] = check_results(loaded, results, advice)
        self.seeds: list[int] = self.results["seeds"]
        for seed in self.seeds:
            if not (self.dir / f"seed_{seed}").is_dir():
                raise DataError(
                    f"{self.dir / f'seed_{seed}'}: missing, while results.json lists seed "
                    f"{seed}: {advice}"
                )
        self.models: list[str] = self.results["models"]
        clips = (self.results.get("unlabelled") or {}).get("clips", 0)
        self.folders = {
            model: student_folder(model, range(clips) if model == "student_transfer" else None)
            for model in MODELS
        }

    def label(self, model: str) -> str:
        return model_label(model, self.results)

    def history(self, seed: int, model: str) -> list[dict[str, str]]:
        """A stage's history rows (none if it has no history.csv)."""
        path = self.dir / f"seed_{seed}" / self.folders[model] / "history.csv"
        return self._rows(path, ("epoch", "valid_mae")) if path.is_file() else []

    def _rows(self, path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
        """The rows of a CSV the run wrote, which must exist and have ``columns``."""
        advice = finish_advice(self.dir)
        if not path.is_file():
            raise DataError(f"{path}: missing: {advice}")
        rows = _read_rows(path)
        missing = [c for c in columns if rows and c not in rows[0]]
        if missing:
            raise DataError(f"{path}: no column {', '.join(missing)}; it is damaged: {advice}")
        return rows

    def test_predictions(self, seed: int, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, labels) on the test split, ``(N,)`` each."""
        folder = self.dir / f"seed_{seed}"
        if model == "teacher":
            path, column = folder / "teacher_predictions.csv", "r_T"
        else:
            path, column = folder / self.folders[model] / "predictions.csv", "r_S"
        rows = [r for r in self._rows(path, ("split", "label", column)) if r["split"] == "test"]
        try:
            return (
                np.array([float(r[column]) for r in rows]),
                np.array([float(r["label"]) for r in rows]),
            )
        except (TypeError, ValueError):  # a cut-short row (None) or a damaged number
            raise DataError(
                f"{path}: a test row has no number in {column} or label; it is damaged: "
                f"{finish_advice(self.dir)}"
            ) from None


def _results_table(run: RunFiles) -> str:
    header = ["Model (test split)", "seed"] + [name for name, _ in TABLE_COLUMNS]
    rows: list[list[Any]] = []
    for model in run.models:
        for seed in run.seeds:
            test = run.results["per_seed"][str(seed)][model]["test"]
            rows.append([run.label(model), seed, *(f"{test[k]:.4f}" for _, k in TABLE_COLUMNS)])
    means = []
    for model in run.models:
        summary = run.results["summary_test"][model]
        cells = [f"{summary[k]['mean']:.4f} +/- {summary[k]['std']:.4f}" for _, k in TABLE_COLUMNS]
        means.append([run.label(model), "mean +/- std", *cells])
    return _table(header, rows + means, mean_rows=len(means))


def _comparisons(run: RunFiles) -> str:
    header = [
        "Distilled vs no distillation",
        "test MAE change",
        "better in",
        "clip bootstrap p",
        "seed + clip bootstrap p",
        "ASO epsilon_min",
    ]
    rows = []
    for model, c in run.results["comparisons"].items():
        aso = c["aso_epsilon_min"]
        rows.append(
            [
                f"{run.label(model)} ({c['name']})",
                f"{c['relative_mae_change_percent']:+.1f}%",
                f"{c['seeds_better']} of {len(run.seeds)} seeds",
                f"{c['paired_bootstrap']['p_value']:.4f}",
                f"{c['seed_clip_bootstrap']['p_value']:.4f}",
                "n/a (one seed)" if aso is None else f"{aso:.3f}",
            ]
        )
    return _table(header, rows)


def _per_seed_figure(run: RunFiles) -> str:
    def draw(figure: Any) -> None:
        axis = figure.add_subplot(1, 1, 1)
        for x, model in enumerate(run.models):
            values = [run.results["per_seed"][str(s)][model]["test"]["MAE"] for s in run.seeds]
            axis.scatter([x] * len(values), values, color=COLOURS[model], zorder=3)
            axis.hlines(statistics.mean(values), x - 0.25, x + 0.25, color=COLOURS[model])
        axis.set_xticks(range(len(run.models)), [SHORT[m] for m in run.models])
        axis.set_ylabel("test MAE (one point per seed; bar: mean)")
        axis.grid(axis="y", alpha=0.3)

    return _figure(draw, (7, 3.5))


def _curves_figure(run: RunFiles) -> str:
    def draw(figure: Any) -> None:
        teacher_axis = figure.add_subplot(1, 2, 1)
        student_axis = figure.add_subplot(1, 2, 2)
        for model in run.models:
            axis = teacher_axis if model == "teacher" else student_axis
            for i, seed in enumerate(run.seeds):
                rows = run.history(seed, model)
                if not rows:
                    continue
                axis.plot(
                    [float(r["epoch"]) for r in rows],
                    [float(r["valid_mae"]) for r in rows],
                    color=COLOURS[model],
                    alpha=0.8,
                    label=SHORT[model] if i == 0 else None,
                )
        for axis, title in ((teacher_axis, "teacher"), (student_axis, "students")):
            axis.set_title(f"{title}: validation MAE (one line per seed)")
            axis.set_xlabel("epoch")
            axis.grid(alpha=0.3)
        if student_axis.get_legend_handles_labels()[0]:  # a run with students
            student_axis.legend()

    return _figure(draw, (11, 3.8))


def _loss_parts_figure(run: RunFiles) -> str:
    seed = run.seeds[0]
    if not any(
        c.startswith("loss_") for m in run.models for c in next(iter(run.history(seed, m)), {})
    ):
        return (
            '<p class="note">This run\'s histories record no loss terms '
            "(an older version wrote them).</p>"
        )

    def panel(axis: Any, model: str, index: int) -> None:
        rows = run.history(seed, model)
        columns = [c for c in (rows[0] if rows else {}) if c.startswith("loss_")]
        for column in columns:
            values = [float(r[column]) if r[column] else np.nan for r in rows]
            if not np.all(np.isnan(values)):
                axis.plot([float(r["epoch"]) for r in rows], values, label=column[5:])
        axis.set_title(SHORT[model])
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if columns:
            axis.legend(fontsize=8)

    return _per_model_figure(run, panel, 3.2)


def _scatter_figure(run: RunFiles) -> str:
    seed = run.seeds[0]

    def panel(axis: Any, model: str, index: int) -> None:
        predicted, true = run.test_predictions(seed, model)
        axis.scatter(true, predicted, s=4, alpha=0.4, color=COLOURS[model])
        axis.plot([-3, 3], [-3, 3], color="#444", lw=0.8)
        axis.set(xlim=(-3.3, 3.3), ylim=(-3.3, 3.3), xlabel="true", title=SHORT[model])
        if index == 0:
            axis.set_ylabel("predicted")

    return _per_model_figure(run, panel, 3.3)


def _confusion_figure(run: RunFiles) -> str:
    seed = run.seeds[0]

    def panel(axis: Any, model: str, index: int) -> None:
        matrix = seven_class_confusion(*run.test_predictions(seed, model))
        axis.imshow(matrix, cmap="Blues")
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                axis.text(col, row, str(count), ha="center", va="center", fontsize=6)
        ticks = range(7)
        axis.set_xticks(ticks, [str(t - 3) for t in ticks], fontsize=7)
        axis.set_yticks(ticks, [str(t - 3) for t in ticks], fontsize=7)
        axis.set(xlabel="predicted class", title=SHORT[model])
        if index == 0:
            axis.set_ylabel("true class")

    return _per_model_figure(run, panel, 3.4)


def _transfer_curve(run: RunFiles) -> str:
    path = run.dir / "curve.json"
    if not path.is_file():
        return (
            '<p class="note">This run has no transfer curve; '
            "<code>python benchmarks/transfer_curve.py --run RUN --out RUN</code> adds one.</p>"
        )
    curve = read_json(path)["summary"]
    summary = [s for s in curve if s["model"] == "distilled"]
    lines = {s["model"]: s for s in curve if s["model"] != "distilled"}

    def draw(figure: Any) -> None:
        axis = figure.add_subplot(1, 1, 1)
        sizes = [s["pool"] for s in summary]
        means = [s["test_MAE_mean"] for s in summary]
        spreads = [s.get("test_MAE_std", 0.0) for s in summary]
        axis.errorbar(sizes, means, yerr=spreads, marker="o", color=COLOURS["student_transfer"])
        for model, colour in (("baseline", "student_baseline"), ("teacher", "teacher")):
            if model in lines:
                axis.axhline(lines[model]["test_MAE_mean"], ls="--", color=COLOURS[colour])
                axis.text(0, lines[model]["test_MAE_mean"], model, va="bottom", fontsize=8)
        axis.set(xlabel="unlabelled clips", ylabel="student test MAE (mean +/- std)")
        axis.grid(alpha=0.3)

    return _figure(draw, (7, 3.5))


def _costs(run: RunFiles) -> str:
    parts = []
    timings = {s: run.results["per_seed"][str(s)].get("timings", {}) for s in run.seeds}
    stages = sorted({k for t in timings.values() for k in t})
    if stages:
        rows = [[s, *(f"{timings[s].get(k, 0.0):.0f}" for k in stages)] for s in run.seeds]
        parts.append("<p>Seconds per stage (a reused stage counts 0):</p>")
        parts.append(_table(["seed", *stages], rows))
    path = run.dir / "inference_cost.json"
    if path.is_file():
        cost = read_json(path)
        mae = cost.get("test_mae", {})
        rows = [
            [
                name,
                f"{ms:.2f}",
                f"{cost['teacher_over'][name]:.1f}x",
                f"{mae[name]:.4f}" if name in mae else "",
            ]
            for name, ms in cost.get("ms_per_clip", {}).items()
        ]
        parts.append(
            f"<p>Inference cost (<code>benchmarks/inference_cost.py</code>: {cost.get('clips')} "
            f"test clips, batches of {cost.get('batch_size')}, {cost.get('threads')} threads, "
            f"median of {cost.get('repeats')}):</p>"
        )
        parts.append(_table(["model", "ms a clip", "teacher / this", "test MAE"], rows))
    else:
        parts.append(
            '<p class="note">No inference cost measured for this run: '
            "<code>python benchmarks/inference_cost.py --run RUN</code> writes "
            "<code>inference_cost.json</code> here.</p>"
        )
    return "\n".join(parts)


def build_report(run_dir: str | Path) -> str:
    """The report of the run in ``run_dir`` as one HTML document (no external resources)."""
    run = RunFiles(Path(run_dir))
    info_path = run.dir / "run_info.json"
    info = read_json(info_path) if info_path.is_file() else {}
    dataset = run.results.get("dataset", {})
    first = run.seeds[0]
    sections = [
        ("Results on the test split", _results_table(run)),
        ("Distilled against no distillation", _comparisons(run)),
        ("Test MAE per seed", _per_seed_figure(run)),
        ("Training curves", _curves_figure(run)),
        (f"Loss terms per epoch (seed {first})", _loss_parts_figure(run)),
        (f"Predicted against true, test split (seed {first})", _scatter_figure(run)),
        (f"7-class confusion matrices, test split (seed {first})", _confusion_figure(run)),
        ("Transfer curve", _transfer_curve(run)),
        ("Cost", _costs(run)),
    ]
    body = "\n".join(f"<h2>{html.escape(title)}</h2>\n{content}" for title, content in sections)
    subtitle = (
        f"recipe {html.escape(str(run.results.get('recipe')))}, seeds "
        f"{', '.join(map(str, run.seeds))}, {dataset.get('clips', '?')} labelled clips "
        f"from {html.escape(str(dataset.get('source', '?')))}; videoadviser "
        f"{html.escape(str(info.get('version', '?')))} at "
        f"{html.escape(str(info.get('git_revision', '?'))[:12])}"
    )
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        f"<title>videoadviser run {html.escape(run.dir.name)}</title>\n"
        f"<style>{STYLE}</style></head><body>\n"
        f"<h1>videoadviser run: {html.escape(run.dir.name)}</h1>\n"
        f'<p class="note">{subtitle}</p>\n{body}\n</body></html>\n'
    )


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` into ``run_dir`` (atomically) and return its path; only into a
    run folder (marked by its ``recipe.json``), where ``report.html`` is the run's own."""
    from videoadviser.pipeline import RECIPE_FILE, is_run_recipe
    from videoadviser.utils.ownership import RUN_FOLDER, claim_folder

    claim_folder(Path(run_dir), RECIPE_FILE, is_run_recipe, RUN_FOLDER, "RUN_DIR")
    path = Path(run_dir) / REPORT_FILE
    write_text(path, build_report(run_dir))
    return path
