"""Student training: videoadviser's trainer against Hugging Face ``Trainer``, side by side.

Both run the same job on the embedded training split (1,284 tweets): the demo recipe's
student (pretrained MiniLM, regression head) fine-tuned on the labels (the baseline,
lambda2 = 0, so no teacher is involved), with the same

- batch size, epochs, learning rates (encoder ``student.lr``, head ``student.head_lr``: the
  Trainer is given the same AdamW parameter groups), weight decay, cosine schedule and warm-up,
  dropout, truncation (``student.max_length``) and seed;
- bf16 autocast (``student.mixed_precision = "bf16"``; the Trainer's ``bf16=True``);
- loss on the labels (the recipe's L1, given to the Trainer as ``compute_loss_func``) and
  gradient clipping (``student.grad_clip``; 0 = none, the Trainer's ``max_grad_norm``);
- validation after every epoch with early stopping (``student.patience``), the best epoch
  kept, and at the end every split scored and the model saved.

The Trainer gets its strongest CPU settings: length-grouped batches
(``train_sampling_strategy="group_by_length"``) with dynamic padding
(``DataCollatorWithPadding``), no progress bars, no reporting.

Measured per round, A then B, the order alternating between rounds (drift on a noisy machine
hits both): wall time of the whole job (model load to saved model), training samples per
second (epochs run x 1,284 / wall time), best validation MAE. It also counts the job's useful
FLOPs (matmul FLOPs of the non-padding tokens only: forward 2 x linear parameters x tokens plus
attention's 4 x tokens^2 x hidden per layer; a training step is 3 forwards) and divides them by
the fp32 matmul peak measured in the same run (``torch.mm``, 2048 x 2048, same threads):

    python benchmarks/student_vs_trainer.py --rounds 3 --accuracy-seeds 1112 1113 1114 1115

``--accuracy-seeds`` trains both once more per seed (untimed), so their validation MAE can be
compared as mean +/- std over seeds rather than on the one timed seed.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.state import AcceleratorState

from videoadviser.config import Recipe, load_recipe
from videoadviser.data.dataset import SentimentDataset, load_dataset
from videoadviser.student.model import build_student
from videoadviser.student.trainer import parameter_groups, train_student
from videoadviser.utils.io import write_json
from videoadviser.utils.runtime import make_optimizer, quiet_other_libraries, seed_everything

SPLITS = ("train", "valid", "test")


def ours(recipe: Recipe, dataset: SentimentDataset, out: Path) -> dict[str, float]:
    """The job with ``train_student``: ``{"seconds", "epochs", "valid_mae"}``."""
    started = time.perf_counter()
    result = train_student(recipe, dataset, out, None, 0.0, progress=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "epochs": float(result["history"][-1]["epoch"]),
        "valid_mae": float(result["metrics"]["valid"]["MAE"]),
    }


def hf_trainer(recipe: Recipe, dataset: SentimentDataset, out: Path) -> dict[str, float]:
    """The same job with ``transformers.Trainer``: ``{"seconds", "epochs", "valid_mae"}``."""
    from transformers import (
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )

    cfg = recipe.student
    started = time.perf_counter()
    seed_everything(recipe.seed)
    model, tokenizer = build_student(cfg.checkpoint, cfg.dropout)
    data = {s: _tokenized(tokenizer, dataset, s, cfg.max_length) for s in SPLITS}
    optimizer = make_optimizer(parameter_groups(model, cfg), cfg.weight_decay, torch.device("cpu"))
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=64,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="cosine" if cfg.schedule == "cosine" else "constant",
        max_grad_norm=cfg.grad_clip,  # 0: no clipping, as ours
        warmup_steps=cfg.warmup_epochs / cfg.epochs,  # a ratio of the total steps
        bf16=cfg.mixed_precision == "bf16",
        use_cpu=True,
        seed=recipe.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model="mae",
        greater_is_better=False,
        train_sampling_strategy="group_by_length",
        dataloader_num_workers=0,
        disable_tqdm=True,
        report_to="none",
        logging_strategy="no",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        eval_dataset=data["valid"],
        data_collator=DataCollatorWithPadding(tokenizer),
        optimizers=(optimizer, None),
        compute_metrics=_mae,
        compute_loss_func=_l1_loss,  # the recipe's loss on labels, as ours (not MSE)
        callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg.patience)],
    )
    trainer.remove_callback(PrinterCallback)  # no metric dicts on stdout (the table is ours)
    trainer.train()
    valid_mae = float(trainer.state.best_metric)  # the kept epoch's (no extra evaluation)
    for split in SPLITS:  # score every split, as train_student does
        trainer.predict(data[split])
    trainer.save_model(str(out / "best"))
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "epochs": float(trainer.state.epoch), "valid_mae": valid_mae}


def _tokenized(tokenizer: Any, dataset: SentimentDataset, split: str, max_length: int) -> Any:
    """A list of feature dicts, ids unpadded (the Trainer reads lengths from ``input_ids``)."""
    records = dataset.split(split)
    ids = tokenizer([r.text for r in records], truncation=True, max_length=max_length)
    return [
        {
            "input_ids": ids["input_ids"][i],
            "attention_mask": ids["attention_mask"][i],
            "labels": float(r.label),
        }
        for i, r in enumerate(records)
    ]


def _l1_loss(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
    """Mean absolute error of the regression output: the student's loss on labels."""
    return (outputs.logits.squeeze(-1).float() - labels.float()).abs().mean()


def _mae(prediction: Any) -> dict[str, float]:
    scores = np.asarray(prediction.predictions).reshape(-1)
    return {"mae": float(np.abs(scores - np.asarray(prediction.label_ids).reshape(-1)).mean())}


def useful_flops(recipe: Recipe, dataset: SentimentDataset, epochs: float) -> float:
    """Matmul FLOPs of the job on non-padding tokens: ``epochs`` training passes (3 forwards
    each), one validation pass per epoch and one scoring pass over every split."""
    model, tokenizer = build_student(recipe.student.checkpoint, recipe.student.dropout)
    config = model.config
    layers, hidden = config.num_hidden_layers, config.hidden_size
    linears = {
        name: m.weight.numel()
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and "embeddings" not in name
    }
    # the pooler and the classifier run once per text, the encoder's layers once per token
    head = sum(n for name, n in linears.items() if "pooler" in name or "classifier" in name)
    per_token = sum(linears.values()) - head

    def forward(split: str) -> float:
        texts = [r.text for r in dataset.split(split)]
        ids = tokenizer(texts, truncation=True, max_length=recipe.student.max_length)
        lengths = np.array([len(x) for x in ids["input_ids"]])
        per_text = 2 * per_token * lengths + 4 * layers * hidden * lengths**2 + 2 * head
        return float(per_text.sum())

    train, valid = forward("train"), forward("valid")
    every_split = sum(forward(s) for s in SPLITS)
    return 3 * train * epochs + valid * math.ceil(epochs) + every_split


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Best FLOP/s of ``torch.mm`` on ``size`` x ``size`` matrices with the current threads."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.mm(a, b)  # warm-up
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="data/demo", help="an embedded-layout dataset folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--set", action="append", default=[], help="recipe override KEY=VALUE (repeatable)"
    )
    parser.add_argument(
        "--accuracy-seeds",
        type=int,
        nargs="*",
        default=[],
        help="more seeds, each trained once by both (untimed), for validation MAE mean +/- std",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    quiet_other_libraries()
    recipe = load_recipe("demo", [f'data.path="{args.data}"', *args.set])
    dataset = load_dataset(args.data, progress=False)
    n_train = len(dataset.split("train"))
    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    jobs = {"videoadviser": ours, "hf_trainer": hf_trainer}
    rounds: list[dict[str, dict[str, float]]] = []
    work = Path(tempfile.mkdtemp(prefix="videoadviser-vs-trainer-"))
    try:
        for index in range(args.rounds):
            order = list(jobs) if index % 2 == 0 else list(jobs)[::-1]
            row: dict[str, dict[str, float]] = {}
            for name in order:
                row[name] = jobs[name](recipe, dataset, work / f"{name}_{index}")
                # the Trainer's Accelerator sets the process-wide state to its bf16; ours
                # autocasts itself and wants "no": each job starts from a clean state
                AcceleratorState._reset_state(reset_partial_state=True)
                row[name]["samples_per_s"] = row[name]["epochs"] * n_train / row[name]["seconds"]
                shutil.rmtree(work / f"{name}_{index}", ignore_errors=True)
            print(
                f"round {index + 1}: "
                + ", ".join(
                    f"{n} {r['seconds']:.1f} s, {r['epochs']:g} epochs, "
                    f"{r['samples_per_s']:.1f} samples/s, valid MAE {r['valid_mae']:.4f}"
                    for n, r in row.items()
                )
            )
            rounds.append(row)
        # accuracy: the timed rounds' seed plus --accuracy-seeds, one untimed job each
        valid = {name: [rounds[0][name]["valid_mae"]] for name in jobs}
        for seed in args.accuracy_seeds:
            seeded = load_recipe("demo", [f'data.path="{args.data}"', *args.set, f"seed={seed}"])
            for name, job in jobs.items():
                valid[name].append(job(seeded, dataset, work / f"{name}_seed{seed}")["valid_mae"])
                AcceleratorState._reset_state(reset_partial_state=True)
                shutil.rmtree(work / f"{name}_seed{seed}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary: dict[str, Any] = {}
    for name in jobs:
        runs = [r[name] for r in rounds]
        epochs = statistics.median(r["epochs"] for r in runs)
        flops = useful_flops(recipe, dataset, epochs)
        flop_rate = statistics.median(
            useful_flops(recipe, dataset, r["epochs"]) / r["seconds"] for r in runs
        )
        summary[name] = {
            "samples_per_s": statistics.median(r["samples_per_s"] for r in runs),
            "seconds": statistics.median(r["seconds"] for r in runs),
            "epochs": epochs,
            "valid_mae": statistics.median(r["valid_mae"] for r in runs),
            "useful_flops": flops,
            "useful_flop_per_s": flop_rate,
            "of_fp32_peak": flop_rate / peak["fp32"],
            "of_bf16_peak": flop_rate / peak["bf16"],
            "valid_mae_by_seed": valid[name],
            "valid_mae_mean": statistics.mean(valid[name]),
            "valid_mae_std": statistics.stdev(valid[name]) if len(valid[name]) > 1 else 0.0,
        }
    ratio = statistics.median(
        r["videoadviser"]["samples_per_s"] / r["hf_trainer"]["samples_per_s"] for r in rounds
    )
    print(
        f"\nthreads {torch.get_num_threads()}; matmul peak fp32 {peak['fp32'] / 1e9:.1f} "
        f"GFLOP/s, bf16 {peak['bf16'] / 1e9:.1f} GFLOP/s"
    )
    seeds = 1 + len(args.accuracy_seeds)
    print(
        "| trainer | samples/s | wall s | epochs | valid MAE (timed seed) | "
        f"valid MAE ({seeds} seeds) | useful GFLOP/s | of fp32 peak | of bf16 peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, s in summary.items():
        print(
            f"| {name} | {s['samples_per_s']:.1f} | {s['seconds']:.1f} | {s['epochs']:g} | "
            f"{s['valid_mae']:.4f} | {s['valid_mae_mean']:.4f} +/- {s['valid_mae_std']:.4f} | "
            f"{s['useful_flop_per_s'] / 1e9:.1f} | {100 * s['of_fp32_peak']:.0f}% | "
            f"{100 * s['of_bf16_peak']:.0f}% |"
        )
    print(f"\nvideoadviser / Trainer samples/s, median of per-round ratios: {ratio:.2f}x")
    write_json(
        args.out / "student_vs_trainer.json",
        {
            "rounds": rounds,
            "summary": summary,
            "ratio_samples_per_s": ratio,
            "matmul_peak_flop_per_s": peak,
            "threads": torch.get_num_threads(),
            "train_texts": n_train,
        },
    )


if __name__ == "__main__":
    main()
