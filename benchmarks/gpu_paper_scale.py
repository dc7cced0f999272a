"""Paper-scale throughput and memory on a GPU: CLIP ViT-B/32 teacher, RoBERTa-large-size student.

Random weights (no hub needed), built from the same configs the `mosi` recipe loads, bf16
autocast with fp32 master weights (the recipes' `mixed_precision = "auto"`). Prints steps/s,
clips/s and peak memory for a few hundred training steps of each model.

    PYTHONPATH=src python benchmarks/gpu_paper_scale.py --steps 200
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import AutoModelForSequenceClassification, CLIPModel, RobertaConfig

from videoadviser.distillation.losses import student_loss, teacher_loss
from videoadviser.teacher.clip_checkpoint import clip_config
from videoadviser.teacher.model import TeacherArchitecture, VideoAdviserTeacher


def bench(step, steps: int, warmup: int = 10) -> dict[str, float]:  # type: ignore[no-untyped-def]
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {"steps_per_s": steps / seconds, "peak_gib": torch.cuda.max_memory_allocated() / 2**30}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--teacher-batch", type=int, default=16)
    parser.add_argument("--student-batch", type=int, default=32)
    args = parser.parse_args()
    device = "cuda"
    results: dict[str, object] = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__}

    # Teacher: ViT-B/32 CLIP, T = 8 frames at 224 px, transcripts of 48 tokens, K = 7 prompts.
    clip = CLIPModel(clip_config("vit-b-32"))
    prompt_ids = torch.randint(0, 49406, (7, 12))
    prompt_ids[:, -1] = 49407
    prompt_mask = torch.ones(7, 12, dtype=torch.long)
    arch = TeacherArchitecture(num_frames=8)
    teacher = VideoAdviserTeacher(clip, arch, prompt_ids, prompt_mask).to(device)
    opt = torch.optim.AdamW(teacher.parameters(), lr=1e-5)
    b = args.teacher_batch
    pixels = torch.randn(b, 8, 3, 224, 224, device=device)
    ids = torch.randint(0, 49406, (b, 48), device=device)
    ids[:, -1] = 49407
    mask = torch.ones(b, 48, dtype=torch.long, device=device)
    labels = torch.empty(b, device=device).uniform_(-3, 3)
    video_mask = torch.ones(b, dtype=torch.bool, device=device)

    def teacher_step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = teacher(ids, mask, video_mask, pixels)
            loss, _ = teacher_loss(out.logits.float(), out.regression.float(), labels, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = bench(teacher_step, args.steps)
    t["clips_per_s"] = t["steps_per_s"] * b
    t["params_m"] = sum(p.numel() for p in teacher.parameters()) / 1e6
    results["teacher_vit_b32"] = t
    teacher.to("cpu")
    torch.cuda.empty_cache()

    # Student: RoBERTa-large geometry (24 layers, 1024 hidden), one regression output.
    config = RobertaConfig(
        vocab_size=50265, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        intermediate_size=4096, max_position_embeddings=514, type_vocab_size=1,
        num_labels=1, problem_type="regression",
    )  # fmt: skip
    student = AutoModelForSequenceClassification.from_config(config).to(device)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-5)
    sb = args.student_batch
    sids = torch.randint(3, 50265, (sb, 64), device=device)
    smask = torch.ones(sb, 64, dtype=torch.long, device=device)
    slabels = torch.empty(sb, device=device).uniform_(-3, 3)
    steacher = torch.empty(sb, device=device).uniform_(-3, 3)

    def student_step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            pred = student(input_ids=sids, attention_mask=smask).logits.squeeze(-1).float()
        loss, _ = student_loss(pred, slabels, steacher, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    s = bench(student_step, args.steps)
    s["texts_per_s"] = s["steps_per_s"] * sb
    s["params_m"] = sum(p.numel() for p in student.parameters()) / 1e6

    @torch.no_grad()
    def student_infer() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            student(input_ids=sids, attention_mask=smask)

    student.eval()
    inf = bench(student_infer, args.steps)
    s["inference_texts_per_s"] = inf["steps_per_s"] * sb
    results["student_roberta_large_size"] = s
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
