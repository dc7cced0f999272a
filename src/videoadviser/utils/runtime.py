"""Seeds and the Accelerate set-up shared by the teacher and student trainers."""

from __future__ import annotations

import random

import numpy as np
import torch
from accelerate import Accelerator


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_accelerator(mixed_precision: str = "auto") -> Accelerator:
    """An :class:`Accelerator` (one process, or many under ``accelerate launch``).

    ``auto`` is bf16 autocast on a GPU that supports it (fp32 master weights, never pure fp16
    fine-tuning) and full precision on the CPU.
    """
    if mixed_precision == "auto":
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        mixed_precision = "bf16" if bf16 else "no"
    return Accelerator(mixed_precision=mixed_precision)
