"""Inference cost of +VideoAdviser against the baseline retrieval model: identical by design.

The VideoAdviser term changes only training; the model that serves is the same two encoders.
This loads both models of one fold and seed of a finished `videoadviser retrieval run` folder
and prints, side by side: parameters that serve (the training-only classifier excluded), FLOPs
to embed the test clips (``torch.utils.flop_counter``), and the median wall time of embedding
them, alternating the two models, with the ratio.

    python benchmarks/retrieval_cost.py --run runs/retrieval-... --repeats 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from videoadviser.retrieval.model import RetrievalModel, load_retrieval_model
from videoadviser.utils.io import read_json


def serving_parameters(model: RetrievalModel) -> int:
    return sum(p.numel() for module in model.inference_modules() for p in module.parameters())


def flops(model: RetrievalModel, audio: torch.Tensor, visual: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(audio, visual)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, required=True, help="a retrieval run folder")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None, help="default: the run's first seed")
    parser.add_argument("--items", type=int, default=100, help="clips to embed per pass")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else read_json(args.run / "results.json")["seeds"][0]
    stage = args.run / f"fold_{args.fold}" / f"seed_{seed}"
    models = {
        name: load_retrieval_model(stage / name / "model") for name in ("baseline", "videoadviser")
    }
    arch = models["baseline"].arch
    torch.manual_seed(0)
    audio = torch.randn(args.items, arch.audio_dim)
    visual = torch.randn(args.items, arch.visual_dim)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, model in models.items():
                start = time.perf_counter()
                model(audio, visual)
                times[name].append(time.perf_counter() - start)
    print(f"{'model':<14}{'serving params':>16}{'FLOPs':>14}{'median ms':>12}")
    for name, model in models.items():
        print(
            f"{name:<14}{serving_parameters(model):>16,}{flops(model, audio, visual):>14,}"
            f"{1000 * statistics.median(times[name]):>12.3f}"
        )
    ratio = statistics.median(
        a / b for a, b in zip(times["videoadviser"], times["baseline"], strict=True)
    )
    print(
        f"time ratio videoadviser / baseline (median of {args.repeats} paired passes): {ratio:.3f}"
    )


if __name__ == "__main__":
    main()
