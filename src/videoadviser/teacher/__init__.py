"""The CLIP-based multimodal teacher (METHOD.md §2) and distillation step 1."""
