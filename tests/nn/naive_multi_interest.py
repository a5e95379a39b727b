"""Naive loop implementations of the multi-interest and Atten-Mixer layers, for the layer tests.

One session, position, interest, level or head at a time, reading the parameters straight off a
layer; slow and obviously correct. The vectorised layers must agree with them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from dmi_gnn.nn.capsule_routing import CapsuleRouting
from dmi_gnn.nn.multi_level_attention import MultiLevelAttention
from dmi_gnn.nn.self_attentive import SelfAttentiveExtractor


def squash_one(z: Tensor) -> Tensor:
    norm2 = sum(z[i] * z[i] for i in range(z.shape[0]))
    return z * (norm2 / (1 + norm2)) / torch.sqrt(norm2 + 1e-9)


def routing(
    layer: CapsuleRouting,
    hidden: Tensor,
    mask: Tensor,
    initial_logits: Tensor,
    interest_mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Dynamic routing; ``initial_logits`` ``(B, K, L)``. Returns interests, weights (B, L, K)."""
    batch, length, _ = hidden.shape
    heads = layer.num_interests
    all_interests, all_weights = [], []
    for b in range(batch):
        active = [interest_mask is None or bool(interest_mask[b, k]) for k in range(heads)]
        u_hat = [[None] * length for _ in range(heads)]
        for k in range(heads):
            for j in range(length):
                if layer.bilinear == "shared":
                    u_hat[k][j] = layer.weight @ hidden[b, j]
                else:
                    u_hat[k][j] = layer.weight[j, k] @ hidden[b, j]
        logits = [[initial_logits[b, k, j] for j in range(length)] for k in range(heads)]
        for step in range(layer.iterations):
            last = step == layer.iterations - 1
            weights = [[hidden.new_zeros(()) for _ in range(length)] for _ in range(heads)]
            for j in range(length):
                if not bool(mask[b, j]):
                    continue
                total = sum(torch.exp(logits[k][j]) for k in range(heads) if active[k])
                for k in range(heads):
                    if active[k]:
                        weights[k][j] = torch.exp(logits[k][j]) / total
            interests = []
            for k in range(heads):
                source = [u if (last or not layer.stop_gradient) else u.detach() for u in u_hat[k]]
                z = sum(weights[k][j] * source[j] for j in range(length))
                interests.append(squash_one(z))
                if not last:
                    for j in range(length):
                        logits[k][j] = logits[k][j] + source[j] @ interests[k]
        interests = [interests[k] if active[k] else interests[0] for k in range(heads)]
        all_interests.append(torch.stack(interests))
        all_weights.append(torch.stack([torch.stack(row) for row in weights]).t())
    return torch.stack(all_interests), torch.stack(all_weights)


def self_attentive(
    layer: SelfAttentiveExtractor, hidden: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor]:
    batch, length, _ = hidden.shape
    all_interests, all_attention = [], []
    for b in range(batch):
        real = [j for j in range(length) if bool(mask[b, j])]
        interests, columns = [], []
        for k in range(layer.num_interests):
            logits = {}
            for j in real:
                x = hidden[b, j] + layer.position_embedding[j]
                inner = torch.tanh(layer.hidden.weight @ x + layer.hidden.bias)
                logits[j] = layer.heads.weight[k] @ inner
            total = sum(torch.exp(v) for v in logits.values())
            column = [
                torch.exp(logits[j]) / total if j in logits else hidden.new_zeros(())
                for j in range(length)
            ]
            interests.append(sum(column[j] * hidden[b, j] for j in real))
            columns.append(torch.stack(column))
        all_interests.append(torch.stack(interests))
        all_attention.append(torch.stack(columns).t())
    return torch.stack(all_interests), torch.stack(all_attention)


def sampled_softmax(
    user: Tensor,
    targets: Tensor,
    candidates: Tensor,
    negatives: Tensor,
    proposal: Tensor | None,
    remove_accidental_hits: bool = True,
) -> Tensor:
    num_items = candidates.shape[0]
    count = negatives.shape[0]
    losses = []
    for b in range(user.shape[0]):
        t = int(targets[b])

        def log_q(item: int) -> float:
            p = 1.0 / num_items if proposal is None else float(proposal[item - 1])
            return math.log(count * p)

        logits = [user[b] @ candidates[t - 1] - log_q(t)]
        for n in negatives.tolist():
            if remove_accidental_hits and n == t:
                logits.append(user.new_tensor(-1e30))
            else:
                logits.append(user[b] @ candidates[n - 1] - log_q(n))
        logits = torch.stack(logits)
        losses.append(-(logits[0] - torch.logsumexp(logits, 0)))
    return torch.stack(losses).mean()


def head_row(x: Tensor, b: int, head: int, row: int, heads: int, semantics: str) -> Tensor:
    """Row ``row`` of head ``head`` of ``x`` (B, R, d), split as each semantics does."""
    rows, dim = x.shape[1], x.shape[2]
    size = dim // heads
    if semantics == "corrected":
        return x[b, row, head * size : (head + 1) * size]
    flat = head * rows + row  # the published .view(-1, rows, d / H) of a contiguous tensor
    source_row, piece = flat // heads, flat % heads
    return x[b, source_row, piece * size : (piece + 1) * size]


def multi_level(
    layer: MultiLevelAttention, queries: Tensor, hidden: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor]:
    """Eval mode (no dropout). Returns a (B, d), alpha (B, L, H)."""
    batch, levels, dim = queries.shape
    length = hidden.shape[1]
    heads, size, p = layer.heads, dim // layer.heads, layer.lp_norm
    q_all = layer.query(queries)
    k_all = layer.key(hidden)
    v_all = layer.value(hidden)
    outputs, alphas = [], []
    for b in range(batch):
        real = [j for j in range(length) if bool(mask[b, j])]
        first_over = real if layer.semantics == "corrected" else list(range(length))
        pieces, head_alphas = [], []
        for c in range(heads):
            gamma = {}
            for j in real:
                total = hidden.new_zeros(())
                for i in range(levels):

                    def logit(jj: int, i: int = i, c: int = c, b: int = b) -> Tensor:
                        q = head_row(q_all, b, c, i, heads, layer.semantics)
                        k = head_row(k_all, b, c, jj, heads, layer.semantics)
                        return 2 * torch.sigmoid(q @ k)

                    norm = sum(torch.exp(logit(jj)) for jj in first_over)
                    beta = torch.exp(logit(j)) / norm
                    total = total + beta**p
                gamma[j] = total ** (1 / p)
            norm = sum(torch.exp(2 * g) for g in gamma.values())
            alpha = [
                torch.exp(2 * gamma[j]) / norm if j in gamma else hidden.new_zeros(())
                for j in range(length)
            ]
            head_alphas.append(torch.stack(alpha))
            pieces.append(sum(alpha[j] * v_all[b, j, c * size : (c + 1) * size] for j in real))
        joined = torch.cat(pieces)
        mean = joined.mean()
        var = ((joined - mean) ** 2).mean()
        normed = (joined - mean) / torch.sqrt(var + layer.layer_norm.eps)
        outputs.append(normed * layer.layer_norm.weight + layer.layer_norm.bias)
        alphas.append(torch.stack(head_alphas).t())
    return torch.stack(outputs), torch.stack(alphas)
