"""The CLIP-based multimodal teacher (docs/method.md) and distillation step 1."""
