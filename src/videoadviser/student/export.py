"""Export a trained student for serving: ONNX (fp32 or dynamic int8) and an ONNX Runtime
predictor.

An export folder holds ``model.onnx`` (inputs ``input_ids`` and ``attention_mask``, both
``(batch, tokens)`` int64; output ``score`` ``(batch, 1)`` float32), the student's tokenizer
files and ``videoadviser_student.json`` with an ``onnx`` section (precision, opset, source).
It is written whole or not at all (:func:`~videoadviser.utils.io.staged_folder`).

The graph comes from ``torch.onnx.export`` (the ``torch.export`` based exporter) with dynamic
batch and token axes. ``--int8`` then applies ONNX Runtime's dynamic quantisation: int8
weights for every MatMul and Gemm, activations quantised per batch at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from videoadviser.errors import ConfigError, TrainingError
from videoadviser.student.model import load_student
from videoadviser.student.trainer import (
    METADATA_FILE,
    Encoded,
    predict_texts,
    truncation_length,
)
from videoadviser.utils.io import read_json, staged_folder, write_json
from videoadviser.utils.ownership import ONNX_EXPORT, check_replaceable
from videoadviser.utils.runtime import quiet_loggers

ONNX_FILE = "model.onnx"
# the largest |ONNX - PyTorch| score on the check texts an export may have
TOLERANCE = {"fp32": 1e-3, "int8-dynamic": 0.3}
# the exporter's and quantiser's chatter (per-pass INFO lines; ONNX Runtime logs to the root)
_EXPORT_LOGGERS = ("", "torch.onnx", "torch.export", "torch._export", "onnx_ir", "onnxscript")
OPSET = 18
STUDENT_STAGES = ("student_transfer", "student_distilled", "student_baseline")


def find_student(path: str | Path, seed: int | None = None, stage: str | None = None) -> Path:
    """The student model folder that ``path`` names.

    ``path`` may be a model folder (with ``config.json``), a stage folder (``student_*``, its
    ``best/`` is used), a seed folder or a run folder. In a seed or run folder, ``stage`` picks
    the student (default: the transfer-set student if the run has one, else the paper-setting
    one) and ``seed`` the seed folder (default: the first).

    Raises:
        ConfigError: nothing under ``path`` is a student, naming what was looked for.
    """
    path = Path(path)
    for model in (path, path / "best"):
        if (model / "config.json").is_file():
            if read_json(model / "config.json").get("kind") == "videoadviser-teacher":
                raise ConfigError(
                    f"{model}: a teacher checkpoint, not a student; give the run folder or a "
                    "student_* folder"
                )
            return model
    seed_dirs = sorted(path.glob("seed_*"), key=lambda d: _number(d.name))
    if seed is not None:
        seed_dirs = [path / f"seed_{seed}"] if (path / f"seed_{seed}").is_dir() else []
        if not seed_dirs and path.name != f"seed_{seed}":
            raise ConfigError(f"{path}: no seed_{seed} folder")
    folder = seed_dirs[0] if seed_dirs else path
    stages = [stage] if stage else list(STUDENT_STAGES)
    for name in stages:
        # the transfer student's folder carries the pool size (student_transfer_2000): the
        # largest pool first
        found = [c for c in folder.glob(f"{name}*/best") if (c / "config.json").is_file()]
        if found:
            return max(found, key=lambda c: _number(c.parent.name))
    if is_onnx_export(path):
        raise ConfigError(f"{path}: an ONNX export; score with it by `--backend onnx`")
    raise ConfigError(
        f"{path}: no trained student found (looked for a model folder with config.json, "
        f"a stage folder with best/, or {', '.join(stages)} in a run or seed folder)"
    )


def _number(name: str) -> int:
    """The number a folder name ends with (``seed_12`` -> 12; -1 without one)."""
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


class _ScoreOnly(torch.nn.Module):
    """The student as ``(input_ids, attention_mask) -> score``, the graph that is exported."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, L)``, ``(B, L)`` -> ``(B, 1)``."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def _export_graph(model: torch.nn.Module, tokenizer: Any, path: Path) -> None:
    """Trace the student into ``path`` with dynamic batch and token axes."""
    sample = tokenizer(
        ["an example transcript", "a second, longer example transcript to trace"],
        padding=True,
        return_tensors="pt",
    )
    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens")
    axes = {0: batch, 1: tokens}
    with quiet_loggers(*_EXPORT_LOGGERS):
        torch.onnx.export(
            _ScoreOnly(model).eval(),
            (sample["input_ids"], sample["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["score"],
            dynamic_shapes={"input_ids": axes, "attention_mask": axes},
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def _quantize_int8(source: Path, target: Path) -> None:
    """ONNX Runtime dynamic quantisation: int8 MatMul/Gemm weights, one scale per output
    channel (one scale per tensor moved MiniLM scores by 0.20 on average, per channel by 0.08),
    uint8 activations quantised per batch."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_loggers(*_EXPORT_LOGGERS):  # it logs every skipped node to the root logger
        quantize_dynamic(
            source,
            target,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Gemm"],
        )


def export_onnx(
    model_dir: str | Path, out_dir: str | Path | None = None, int8: bool = False
) -> Path:
    """Write an ONNX export of the student in ``model_dir`` to ``out_dir`` and return it.

    ``out_dir`` defaults to ``onnx`` (``onnx-int8`` with ``int8``) beside ``model_dir``: for
    ``.../student_transfer_2000/best`` that is ``.../student_transfer_2000/onnx``. An existing
    ``out_dir`` is replaced only if it is an earlier export. Before the folder is put in place
    the export is checked against PyTorch (:func:`check_export`); the largest difference is
    recorded in its ``videoadviser_student.json``.

    Raises:
        ConfigError: ``out_dir`` exists and is not an export, or holds ``model_dir``.
        TrainingError: the exported graph disagrees with PyTorch beyond :data:`TOLERANCE`.
    """
    model_dir = Path(model_dir)
    out = Path(out_dir) if out_dir else model_dir.parent / ("onnx-int8" if int8 else "onnx")
    _check_target(out, model_dir)
    model, tokenizer = load_student(model_dir)
    max_length = truncation_length(model_dir, tokenizer)
    metadata = read_json(model_dir / METADATA_FILE) if (model_dir / METADATA_FILE).is_file() else {}
    precision = "int8-dynamic" if int8 else "fp32"
    with staged_folder(out, ONNX_EXPORT) as staging:
        fp32 = staging / ONNX_FILE if not int8 else staging / "fp32.onnx"
        with torch.no_grad():
            _export_graph(model.float(), tokenizer, fp32)
        if int8:
            _quantize_int8(fp32, staging / ONNX_FILE)
            fp32.unlink()
        # the tokenizer as serving reads it: tokenizer.json truncates as training did
        tokenizer.backend_tokenizer.enable_truncation(max_length)
        tokenizer.save_pretrained(staging)
        metadata["onnx"] = {
            "precision": precision,
            "opset": OPSET,
            "source": str(model_dir),
            "torch": torch.__version__,
        }
        metadata.setdefault("student", {})["max_length"] = max_length
        write_json(staging / METADATA_FILE, metadata)
        difference = check_export(model_dir, staging)
        if difference > TOLERANCE[precision]:
            raise TrainingError(
                f"{out}: the {precision} export differs from PyTorch by {difference:.3g} on the "
                f"check texts (at most {TOLERANCE[precision]} expected); nothing was written"
            )
        metadata["onnx"]["max_abs_difference"] = difference
        write_json(staging / METADATA_FILE, metadata)
    return out


def _check_target(out: Path, model_dir: Path) -> None:
    """Refuse an ``out`` that would destroy something: the model itself (or a folder holding
    it), or any folder but a free one or an earlier export holding only its own files
    (:func:`~videoadviser.utils.ownership.check_replaceable`)."""
    if model_dir.resolve().is_relative_to(out.resolve()):
        raise ConfigError(f"--out {out}: it holds the student {model_dir}; choose a new folder")
    check_replaceable(out, ONNX_EXPORT, "--out")


def is_onnx_export(folder: str | Path) -> bool:
    """Whether ``folder`` is an ONNX export (it has ``model.onnx``)."""
    return (Path(folder) / ONNX_FILE).is_file()


class OnnxStudent:
    """Score texts with an exported student on ONNX Runtime's CPU provider.

    Tokenisation, truncation and length-sorted batching are the PyTorch path's
    (:class:`~videoadviser.student.trainer.Encoded`), so both backends see the same ids.
    """

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        folder = Path(folder)
        if not is_onnx_export(folder):
            raise ConfigError(
                f"{folder}: no {ONNX_FILE}; write one with `videoadviser export MODEL --onnx`"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(
            str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        metadata = read_json(folder / METADATA_FILE) if (folder / METADATA_FILE).is_file() else {}
        self.max_length = int(metadata.get("student", {}).get("max_length", 512))
        self.precision = metadata.get("onnx", {}).get("precision", "fp32")

    def predict(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Scores for ``texts`` in order: ``(N,)`` float32."""
        return self.predict_encoded(Encoded(self.tokenizer, texts, self.max_length), batch_size)

    def predict_encoded(self, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
        """Scores for already tokenised texts (an ``Encoded``): ``(N,)`` float32."""
        out = np.empty(len(encoded), dtype=np.float32)
        for index in encoded.batches(batch_size, None):
            batch = {k: v.numpy() for k, v in encoded.batch(index).items()}
            out[index] = self.session.run(None, batch)[0][:, 0]
        return out


CHECK_TEXTS = (
    "I loved every minute of it, the best film this year.",
    "It was fine I guess, nothing special.",
    "Terrible. A waste of two hours and I want my money back!",
    "ok",
)


def check_export(model_dir: str | Path, export_dir: str | Path) -> float:
    """Largest ``|ONNX - PyTorch|`` score over :data:`CHECK_TEXTS` (fp32 exports: about 1e-6)."""
    texts = list(CHECK_TEXTS)
    reference = predict_texts(model_dir, texts)
    return float(np.abs(OnnxStudent(export_dir).predict(texts) - reference).max())
