"""The shared optimizer: the fused AdamW makes the same update as the reference loop."""

from __future__ import annotations

import torch

from videoadviser.utils.runtime import make_optimizer


def test_fused_optimizer_matches_the_reference_adamw() -> None:
    torch.manual_seed(0)
    start = [torch.randn(5, 3), torch.randn(3)]
    grads = [[torch.randn_like(p) for p in start] for _ in range(4)]

    def train(fused: bool) -> list[torch.Tensor]:
        params = [p.clone().requires_grad_(True) for p in start]
        groups = [{"params": params[:1], "lr": 1e-2}, {"params": params[1:], "lr": 1e-3}]
        if fused:
            optimizer = make_optimizer(groups, 0.01, torch.device("cpu"))
            assert optimizer.defaults["fused"]
        else:
            optimizer = torch.optim.AdamW(groups, weight_decay=0.01, foreach=False)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g.clone()
            optimizer.step()
        return [p.detach() for p in params]

    for got, want, before in zip(train(True), train(False), start):
        assert (got - before).abs().min() > 1e-4  # every value moved
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
