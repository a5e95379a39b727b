"""Naive loop implementations of every layer, for the layer tests.

Each function loops over samples, nodes/positions, neighbours and interests and computes one
scalar or vector at a time, reading the parameters straight off a layer. They are slow and
obviously correct; the vectorised layers must agree with them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from dmi_gnn.nn import DMIGNNNet, GlobalAggregator, LocalAggregator, MultiInterestExtractor


def local(layer: LocalAggregator, hidden: Tensor, adjacency: Tensor) -> Tensor:
    batch, length, _ = hidden.shape
    rows = []
    for b in range(batch):
        for i in range(length):
            logits = []
            for j in range(length):
                r = int(adjacency[b, i, j])
                if r == 0:
                    logits.append(hidden.new_tensor(-9e15))
                else:
                    e = (layer.edge_attention[r - 1] * hidden[b, i] * hidden[b, j]).sum()
                    logits.append(F.leaky_relu(e, layer.leaky_relu_slope))
            weights = torch.softmax(torch.stack(logits), 0)
            rows.append(sum(weights[j] * hidden[b, j] for j in range(length)))
    return torch.stack(rows).view_as(hidden)


def global_one(
    layer: GlobalAggregator,
    self_vector: Tensor,
    neighbors: Tensor,
    weights: Tensor,
    session: Tensor,
    mask: Tensor | None = None,
) -> Tensor:
    """One node: self (d,), neighbours (k, d), weights (k,), session (d,), mask (k,)."""
    logits = []
    for k in range(neighbors.shape[0]):
        x = torch.cat([session * neighbors[k], weights[k].reshape(1)])
        hidden = F.leaky_relu(x @ layer.attention_weight, layer.leaky_relu_slope)
        logit = hidden @ layer.attention_vector
        if mask is not None and not bool(mask[k]):
            logit = logit * 0 - 9e15
        logits.append(logit)
    pi = torch.softmax(torch.stack(logits), 0)
    if mask is not None:
        pi = pi * mask.to(pi.dtype)
    neighborhood = sum(pi[k] * neighbors[k] for k in range(neighbors.shape[0]))
    out = torch.cat([self_vector, neighborhood]) @ layer.output_weight
    return torch.relu(out) if layer.activation == "relu" else torch.tanh(out)


def global_layer(
    layer: GlobalAggregator,
    self_vectors: Tensor,
    neighbor_vectors: Tensor,
    neighbor_weights: Tensor,
    session: Tensor,
    neighbor_mask: Tensor | None = None,
) -> Tensor:
    batch, nodes, _ = self_vectors.shape
    return torch.stack(
        [
            torch.stack(
                [
                    global_one(
                        layer,
                        self_vectors[b, m],
                        neighbor_vectors[b, m],
                        neighbor_weights[b, m],
                        session[b],
                        None if neighbor_mask is None else neighbor_mask[b, m],
                    )
                    for m in range(nodes)
                ]
            )
            for b in range(batch)
        ]
    )


def interests(layer: MultiInterestExtractor, hidden: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    batch, length, d = hidden.shape
    heads = layer.num_interests
    table = layer.position_embedding.weight
    attention = hidden.new_zeros(batch, length, heads)
    out = []
    for b in range(batch):
        logits = [[None] * heads for _ in range(length)]
        for i in range(length):
            p = table[min(i, layer.max_positions - 1)]
            z = torch.cat([p, hidden[b, i]]) @ layer.readout_weight
            if layer.readout_bias is not None:
                z = z + layer.readout_bias
            z = torch.tanh(z)
            for u in range(heads):
                h = u if layer.positional == "multi" else 0
                w4 = layer.gate.weight[h * d : (h + 1) * d]
                b4 = layer.gate.bias[h * d : (h + 1) * d]
                g = torch.sigmoid(w4 @ z + b4)
                logits[i][u] = (layer.query[:, u] * g).sum()
        session_vectors = []
        for u in range(heads):
            column = torch.stack([logits[i][u] for i in range(length)])
            if layer.attention == "raw":
                alpha = column * mask[b].to(column.dtype)
            else:
                real = [i for i in range(length) if bool(mask[b, i])]
                soft = torch.softmax(column[real], 0)
                alpha = hidden.new_zeros(length).index_put((torch.tensor(real),), soft)
            attention[b, :, u] = alpha
            session_vectors.append(sum(alpha[i] * hidden[b, i] for i in range(length)))
        out.append(torch.stack(session_vectors))
    return torch.stack(out), attention


def scores(interest_vectors: Tensor, candidates: Tensor, scoring: str) -> Tensor:
    batch, heads, _ = interest_vectors.shape
    rows = []
    for b in range(batch):
        row = []
        for j in range(candidates.shape[0]):
            per_head = [interest_vectors[b, u] @ candidates[j] for u in range(heads)]
            row.append(max(per_head) if scoring == "max" else sum(per_head))
        rows.append(torch.stack(row))
    return torch.stack(rows)


def network_scores(net: DMIGNNNet, batch) -> tuple[Tensor, Tensor]:
    """The whole network, eval mode (no dropout), one node / neighbour / position at a time."""
    emb = net.embedding.weight
    out_hidden = []
    for b in range(batch.items.shape[0]):
        length = batch.items.shape[1]
        real_positions = [t for t in range(length) if bool(batch.mask[b, t])]
        session = sum(emb[int(batch.items[b, t])] for t in real_positions) / len(real_positions)

        def embed_global(item: int, step: int, _session=session) -> Tensor:
            """An item's vector after pyramid iteration ``step`` (0 = raw embedding)."""
            if step == 0:
                return emb[item]
            layer = net.global_aggregators[step - 1]
            ids = [int(n) for n in net.global_neighbors[item]]
            self_vector = embed_global(item, step - 1)
            neigh = torch.stack([embed_global(n, step - 1) for n in ids])
            mask = None
            if net.neighbor_padding == "masked":
                mask = torch.tensor([n != 0 for n in ids])
            return global_one(layer, self_vector, neigh, net.global_weights[item], _session, mask)

        node_vectors = {}
        nodes = [int(v) for v in batch.nodes[b]]
        for index, item in enumerate(nodes):
            vector = 0
            if net.local_active:
                h = emb[item]
                neigh_logits, neigh_vectors = [], []
                for j, other in enumerate(nodes):
                    r = int(batch.adjacency[b, index, j])
                    hi = F.normalize(h, dim=0) if net.normalize_embeddings else h
                    hj = emb[other]
                    hj = F.normalize(hj, dim=0) if net.normalize_embeddings else hj
                    if r == 0:
                        neigh_logits.append(h.new_tensor(-9e15))
                    else:
                        e = (net.local_aggregator.edge_attention[r - 1] * hi * hj).sum()
                        neigh_logits.append(F.leaky_relu(e, net.local_aggregator.leaky_relu_slope))
                    neigh_vectors.append(hj)
                w = torch.softmax(torch.stack(neigh_logits), 0)
                vector = vector + sum(w[j] * neigh_vectors[j] for j in range(len(nodes)))
            if net.global_active:
                vector = vector + embed_global(item, net.hop)
            node_vectors[index] = vector
        out_hidden.append(torch.stack([node_vectors[int(a)] for a in batch.alias[b]]))
    hidden = torch.stack(out_hidden)
    interest_vectors, _ = interests(net.interest_extractor, hidden, batch.mask)
    candidates = emb[1:]
    if net.normalize_embeddings:
        candidates = F.normalize(candidates, dim=-1)
    return scores(interest_vectors, candidates, net.scorer.scoring), interest_vectors
