"""Paper-scale throughput and memory through the real trainers: ``train_teacher`` and
``train_student`` themselves, with the ``mosi`` recipe.

- Teacher: a random-weight CLIP ViT-B/32 (``random:vit-b-32``, built and loaded through
  ``save_pretrained`` / ``from_pretrained``), 8 frames a clip, transcripts through the CLIP text
  tower, everything tuned, on a MOSI-size embedded set (1284 / 229 / 686 clips).
- Student: a random-weight model of RoBERTa-large's size (24 layers, 1024 wide, 16 heads),
  written to a local folder with the packaged MiniLM's tokenizer and loaded by
  ``from_pretrained`` as any ``student.checkpoint`` folder is; distilled on the teacher's
  predictions.

Both run as the recipe says (bf16 autocast with fp32 master weights on a GPU, through
Accelerate). Reported: clips/s and texts/s over the epochs after the first (medians), peak GPU
memory, and the student's model FLOP utilisation, ``6 x parameters x tokens/s`` (matrix
multiplications only) against the device's dense bf16 peak (``--peak-tflops``, or a table of
known devices).

    python benchmarks/gpu_paper_scale.py --out runs/gpu            # on a GPU, a few minutes
    python benchmarks/gpu_paper_scale.py --tiny --out runs/gpu-cpu  # CPU smoke run (the tests)

``--tiny`` swaps in the tiny CLIP, a 2-layer student and a 40-clip set, so the same code path
runs on a CPU in seconds; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, AutoTokenizer

from videoadviser.config import load_recipe
from videoadviser.data.dataset import load_dataset
from videoadviser.data.demo import DemoConfig, make_demo_dataset
from videoadviser.pretrained import minilm_path
from videoadviser.student.trainer import train_student
from videoadviser.teacher.trainer import PREDICTIONS_FILE, train_teacher
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import quiet_other_libraries

# dense bf16 peak, TFLOP/s (no sparsity), by a word in the device name
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}
ROBERTA_LARGE = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16}
TINY_STUDENT = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2}


def random_student(folder: Path, size: dict[str, int]) -> Path:
    """A random-weight RoBERTa of ``size`` with the packaged MiniLM's (WordPiece) tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    config = AutoConfig.for_model(
        "roberta",
        vocab_size=tokenizer.vocab_size,
        intermediate_size=4 * size["hidden_size"],
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        type_vocab_size=1,
        **size,
    )
    AutoModel.from_config(config).save_pretrained(folder)  # an encoder: the head comes later
    tokenizer.save_pretrained(folder)
    return folder


def peak_memory_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def steady_rate(history: list[dict[str, Any]], items: int) -> float:
    """Items per second: the median over the epochs after the first (the first holds the
    warm-up and, for the teacher, the frame decoding), or the one epoch there is."""
    seconds = [h["seconds"] for h in history]
    return items / statistics.median(seconds[1:] or seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("runs/gpu"))
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run of the same path")
    parser.add_argument("--teacher-epochs", type=int, default=3)
    parser.add_argument("--student-epochs", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args()
    quiet_other_libraries()  # no load reports or weight bars in the benchmark output
    out = args.out
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    data = out / "data"
    if not data.exists():
        config = DemoConfig(seed=7, n_train=24, n_valid=8, n_test=8) if args.tiny else DemoConfig()
        make_demo_dataset(data, config, progress=False)
    dataset = load_dataset(data, progress=False)
    student_folder = out / "random-student"
    if not (student_folder / "config.json").is_file():
        random_student(student_folder, TINY_STUDENT if args.tiny else ROBERTA_LARGE)
    overrides = [
        f'data.path="{data}"',
        f'cache_dir="{out / "cache"}"',
        f'teacher.checkpoint="random:{"tiny" if args.tiny else "vit-b-32"}"',
        f"teacher.epochs={args.teacher_epochs}",
        f'student.checkpoint="{student_folder}"',
        f"student.epochs={args.student_epochs}",
        f"student.min_epochs={args.student_epochs}",  # time every epoch: no early stop
    ]
    if args.tiny:
        overrides += ["data.num_frames=4", "teacher.batch_size=8", "student.batch_size=8"]
    recipe = load_recipe("mosi", overrides)
    results: dict[str, Any] = {"device": device, "torch": torch.__version__, "tiny": args.tiny}

    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    started = time.perf_counter()
    predictions = out / PREDICTIONS_FILE
    teacher = train_teacher(recipe, dataset, out / "teacher", False, False, predictions)
    train_clips = len(dataset.split("train"))
    results["teacher"] = {
        "wall_s": time.perf_counter() - started,
        "epochs": len(teacher["history"]),
        "clips_per_s": steady_rate(teacher["history"], train_clips),
        "peak_gib": peak_memory_gib(),
        "test_mae": teacher["metrics"]["test"]["MAE"],
    }
    torch.cuda.empty_cache() if torch.cuda.is_available() else None

    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    started = time.perf_counter()
    student = train_student(recipe, dataset, out / "student", predictions, progress=False)
    texts_per_s = steady_rate(student["history"], train_clips)
    tokenizer = AutoTokenizer.from_pretrained(student_folder)
    tokens = tokenizer([r.text for r in dataset.split("train")], truncation=True, max_length=64)
    tokens_per_text = statistics.mean(len(t) for t in tokens["input_ids"])
    model = AutoModelForSequenceClassification.from_pretrained(out / "student" / "best")
    embeddings = model.get_input_embeddings().weight.numel()
    params = sum(p.numel() for p in model.parameters()) - embeddings  # matmul parameters
    flops = 6 * params * tokens_per_text * texts_per_s
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in device), None)
    results["student"] = {
        "wall_s": time.perf_counter() - started,
        "epochs": len(student["history"]),
        "texts_per_s": texts_per_s,
        "tokens_per_text": tokens_per_text,
        "params_m": params / 1e6,
        "model_tflops_per_s": flops / 1e12,
        "mfu": flops / (peak * 1e12) if peak else None,
        "peak_gib": peak_memory_gib(),
        "test_mae": student["metrics"]["test"]["MAE"],
    }
    write_json(out / "gpu_paper_scale.json", results)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
