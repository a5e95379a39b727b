"""Naive per-session loops for the repeat-aware layers (one session, one item at a time)."""

from __future__ import annotations

import torch
from torch import Tensor

from dmi_gnn.nn import RepeatBonus, RepeatMixture


def prefix(items: Tensor, mask: Tensor, b: int) -> list[int]:
    """The real positions of row ``b``: reversed, position 0 = most recent click."""
    return [int(items[b, t]) for t in range(items.shape[1]) if bool(mask[b, t])]


def item_stats(session: list[int]) -> dict[int, tuple[int, int, int]]:
    """``item -> (count, last = min position, first = max position)`` of a reversed prefix."""
    stats: dict[int, tuple[int, int, int]] = {}
    for t, item in enumerate(session):
        if item in stats:
            count, last, _first = stats[item]
            stats[item] = (count + 1, last, t)
        else:
            stats[item] = (1, t, t)
    return stats


def bonus_logits(layer: RepeatBonus, logits: Tensor, items: Tensor, mask: Tensor) -> Tensor:
    out = logits.clone()
    top = layer.max_positions - 1
    for b in range(items.shape[0]):
        session = prefix(items, mask, b)
        for item, (count, last, first) in item_stats(session).items():
            c = logits.new_tensor(float(count))
            parts = [torch.log1p(c).reshape(1), (c / len(session)).reshape(1)]
            parts.append(layer.last_embedding.weight[min(last, top)])
            if layer.first_position:
                parts.append(layer.first_embedding.weight[min(first, top)])
            phi = torch.cat(parts)
            if layer.hidden:
                first_layer, _relu, output = layer.mlp
                z = torch.relu(first_layer.weight @ phi + first_layer.bias)
            else:
                (output,) = layer.mlp
                z = phi
            bonus = (output.weight[0] * z).sum() + output.bias[0]
            out[b, item - 1] = logits[b, item - 1] + bonus
    return out


def mixture_log_probs(
    layer: RepeatMixture,
    logits: Tensor,
    items: Tensor,
    mask: Tensor,
    session: Tensor,
    hidden: Tensor,
) -> Tensor:
    rows = []
    num_items = logits.shape[1]
    for b in range(items.shape[0]):
        clicks = prefix(items, mask, b)
        s = session[b] if session.dim() == 2 else session[b].mean(0)
        unique = set(clicks)
        psi = torch.stack(
            [
                torch.log1p(s.new_tensor(float(len(clicks)))),
                s.new_tensor(1.0 - len(unique) / len(clicks)),
            ]
        )
        g = (layer.gate.weight[0] * torch.cat([s, psi])).sum() + layer.gate.bias[0]
        p_repeat = torch.sigmoid(g)
        energies = []
        for t in range(len(clicks)):
            m = layer.hidden_weight.weight @ hidden[b, t] + layer.session_weight.weight @ s
            m = torch.tanh(m + layer.session_weight.bias)
            prior = layer.position_prior[min(t, layer.max_positions - 1)]
            energies.append((layer.attention_vector * m).sum() + prior)
        alpha = torch.softmax(torch.stack(energies), 0)
        allowed = [j for j in range(1, num_items + 1) if layer.explore == "all" or j not in unique]
        explore_norm = torch.stack([torch.exp(logits[b, j - 1]) for j in allowed]).sum()
        row = []
        for j in range(1, num_items + 1):
            p_r = sum((alpha[t] for t in range(len(clicks)) if clicks[t] == j), s.new_zeros(()))
            p_e = torch.exp(logits[b, j - 1]) / explore_norm if j in allowed else 0.0
            row.append(torch.log(p_repeat * p_r + (1 - p_repeat) * p_e))
        rows.append(torch.stack(row))
    return torch.stack(rows)
