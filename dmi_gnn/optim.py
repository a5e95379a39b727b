"""Adam that updates only the rows a sparse gradient touches (training at large catalogues).

With ``loss="sampled"`` a step reads a few thousand rows of an item table of a million; dense
gradients would still allocate, zero and update all ``N x d`` entries (with Adam's two moment
tensors, about 1.6 GB of memory traffic per step at 1M x 100). :class:`LazyAdam` takes the row-
sparse gradients of ``nn.Embedding(sparse=True)`` and updates only those rows (their moments and
their values), as TensorFlow's LazyAdam and torch's ``SparseAdam`` do; dense parameters get the
ordinary Adam update, identical to ``torch.optim.Adam`` (tested).

For a sparse parameter with gradient rows ``R`` at its ``t``-th update:

.. math::
    g_r &= \\nabla_r + \\lambda\\, p_r \\quad (\\text{coupled L2, } r \\in R) \\\\
    m_r &\\leftarrow \\beta_1 m_r + (1 - \\beta_1) g_r, \\qquad
    v_r \\leftarrow \\beta_2 v_r + (1 - \\beta_2) g_r^2 \\\\
    p_r &\\leftarrow p_r - \\eta\\,
        \\frac{m_r / (1 - \\beta_1^t)}{\\sqrt{v_r / (1 - \\beta_2^t)} + \\epsilon}

Rows outside ``R`` keep their value and moments (no decay, no momentum drift): the documented
difference from dense Adam, where an untouched row still moves by its momentum and its L2 term.
With ``decoupled=True`` the weight decay is AdamW's (``p_r *= 1 - eta lambda``), again on ``R``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor


class LazyAdam(torch.optim.Optimizer):
    """Adam for dense gradients, row-lazy Adam for sparse ones (one optimiser for both).

    Args:
        params: the parameters (or parameter groups).
        lr: learning rate ``eta``.
        betas: ``(beta_1, beta_2)``.
        eps: ``epsilon``.
        weight_decay: ``lambda``; coupled L2 (``torch.optim.Adam``) unless ``decoupled``.
        decoupled: AdamW's decoupled weight decay instead.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(
                f"LazyAdam: lr, eps and weight_decay must be >= 0 and betas in [0, 1), got "
                f"lr={lr}, eps={eps}, weight_decay={weight_decay}, betas={betas}"
            )
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, decoupled=decoupled)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(
                        param, memory_format=torch.preserve_format
                    )
                state["step"] += 1
                if param.grad.is_sparse:
                    _sparse_update(param, param.grad, state, group)
                else:
                    _dense_update(param, param.grad, state, group)
        return loss


def _corrections(state: dict, group: dict) -> tuple[float, float]:
    beta1, beta2 = group["betas"]
    t = float(state["step"])
    return 1 - beta1**t, math.sqrt(1 - beta2**t)


def _dense_update(param: Tensor, grad: Tensor, state: dict, group: dict) -> None:
    """``torch.optim.Adam`` / ``AdamW`` on every entry (the single-tensor algorithm)."""
    beta1, beta2 = group["betas"]
    lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
    if decay:
        if group["decoupled"]:
            param.mul_(1 - lr * decay)
        else:
            grad = grad.add(param, alpha=decay)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad.conj(), value=1 - beta2)
    bias1, bias2_sqrt = _corrections(state, group)
    denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-lr / bias1)


def _sparse_update(param: Tensor, grad: Tensor, state: dict, group: dict) -> None:
    """The same update on the rows ``grad`` holds (duplicates summed); other rows untouched."""
    beta1, beta2 = group["betas"]
    lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
    grad = grad.coalesce()
    rows, values = grad.indices()[0], grad.values()
    if rows.numel() == 0:
        return
    current = param[rows]
    if decay:
        if group["decoupled"]:
            current = current * (1 - lr * decay)
        else:
            values = values + decay * current
    exp_avg = state["exp_avg"][rows].lerp_(values, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"][rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
    state["exp_avg"][rows] = exp_avg
    state["exp_avg_sq"][rows] = exp_avg_sq
    bias1, bias2_sqrt = _corrections(state, group)
    denom = (exp_avg_sq.sqrt() / bias2_sqrt).add_(eps)
    param[rows] = current - (lr / bias1) * exp_avg / denom
