"""Naive loop implementations of the baseline layers and networks, for their tests.

One session, one node or one position at a time, read straight off the layers' parameters,
from chronological prefixes (``chronological(batch, b)``), never from the vectorised code.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tests.nn import naive


def chronological(batch, b: int) -> list[int]:
    """Row ``b`` of a batch as the chronological prefix ``[s1, ..., sl]``."""
    length = int(batch.lengths[b])
    return [int(batch.items[b, t]) for t in range(length)][::-1]


def srgnn_graph(prefix: list[int]) -> tuple[list[int], list[list[float]], list[list[float]]]:
    """SR-GNN's graph of one chronological prefix: (sorted nodes, A_in, A_out) as lists."""
    nodes = sorted(set(prefix))
    n = len(nodes)
    edge = [[0.0] * n for _ in range(n)]
    for t in range(len(prefix) - 1):
        edge[nodes.index(prefix[t])][nodes.index(prefix[t + 1])] = 1.0
    a_in = [[0.0] * n for _ in range(n)]
    a_out = [[0.0] * n for _ in range(n)]
    for i in range(n):
        indegree = sum(edge[j][i] for j in range(n))
        outdegree = sum(edge[i][j] for j in range(n))
        for j in range(n):
            if indegree:
                a_in[i][j] = edge[j][i] / indegree
            if outdegree:
                a_out[i][j] = edge[i][j] / outdegree
    return nodes, a_in, a_out


def gru_step(cell_weights: tuple[Tensor, Tensor, Tensor, Tensor], x: Tensor, h: Tensor) -> Tensor:
    """One GRU step, gate by gate: weights (W_ih (3d, in), W_hh (3d, d), b_ih, b_hh)."""
    w_ih, w_hh, b_ih, b_hh = cell_weights
    d = h.shape[0]
    gates_x = [w_ih[k * d : (k + 1) * d] @ x + b_ih[k * d : (k + 1) * d] for k in range(3)]
    gates_h = [w_hh[k * d : (k + 1) * d] @ h + b_hh[k * d : (k + 1) * d] for k in range(3)]
    reset = torch.sigmoid(gates_x[0] + gates_h[0])
    update = torch.sigmoid(gates_x[1] + gates_h[1])
    new = torch.tanh(gates_x[2] + reset * gates_h[2])
    return (1 - update) * new + update * h


def gated_graph(layer, hidden: Tensor, a_in, a_out) -> Tensor:
    """GatedGraphLayer on one session: hidden (n, d), adjacency as nested lists or tensors."""
    cell = (layer.cell.weight_ih, layer.cell.weight_hh, layer.cell.bias_ih, layer.cell.bias_hh)
    n = hidden.shape[0]
    for _ in range(layer.steps):
        new_rows = []
        for i in range(n):
            incoming = layer.bias_in + sum(
                float(a_in[i][j]) * (layer.edge_in.weight @ hidden[j] + layer.edge_in.bias)
                for j in range(n)
            )
            outgoing = layer.bias_out + sum(
                float(a_out[i][j]) * (layer.edge_out.weight @ hidden[j] + layer.edge_out.bias)
                for j in range(n)
            )
            new_rows.append(gru_step(cell, torch.cat([incoming, outgoing]), hidden[i]))
        hidden = torch.stack(new_rows)
    return hidden


def last_item_attention(layer, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """LastItemAttention over one session's states, most recent first."""
    bias = layer.item_weight.bias
    logits = []
    for h in states:
        inner = layer.last_weight.weight @ states[0] + layer.item_weight.weight @ h
        if bias is not None:
            inner = inner + bias
        logits.append(layer.query @ torch.sigmoid(inner))
    if layer.normalization == "softmax":
        weights = list(torch.softmax(torch.stack(logits), 0))
    else:
        weights = logits
    return sum(w * h for w, h in zip(weights, states, strict=True)), weights


def positional_readout(layer, states: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """PositionalAttentionReadout over one session's states, most recent first."""
    mean = sum(states) / len(states)
    weights = []
    for i, h in enumerate(states):
        p = layer.position_embedding.weight[min(i, layer.max_positions - 1)]
        z = torch.tanh(torch.cat([p, h]) @ layer.readout_weight)
        gate = torch.sigmoid(
            layer.gate.weight @ z + layer.gate.bias + layer.mean_gate.weight @ mean
        )
        weights.append(layer.query @ gate)
    return sum(w * h for w, h in zip(weights, states, strict=True)), weights


def gru_states(gru, inputs: list[Tensor]) -> list[Tensor]:
    """A (stacked) torch GRU over chronological inputs, step by step: the top-layer states."""
    sequence = inputs
    for layer in range(gru.num_layers):
        cell = tuple(
            getattr(gru, f"{name}_l{layer}")
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        h = sequence[0].new_zeros(gru.hidden_size)
        outputs = []
        for x in sequence:
            h = gru_step(cell, x, h)
            outputs.append(h)
        sequence = outputs
    return sequence


def srgnn_scores(net, batch) -> Tensor:
    rows = []
    for b in range(batch.items.shape[0]):
        prefix = chronological(batch, b)
        nodes, a_in, a_out = srgnn_graph(prefix)
        hidden = gated_graph(net.gnn, net.embedding.weight[nodes], a_in, a_out)
        states = [hidden[nodes.index(item)] for item in reversed(prefix)]
        global_vector, _ = last_item_attention(net.readout, states)
        session = global_vector
        if net.hybrid:
            session = net.transform.weight @ torch.cat([global_vector, states[0]])
            session = session + net.transform.bias
        rows.append(
            torch.stack([session @ net.embedding.weight[j] for j in range(1, net.num_items + 1)])
        )
    return torch.stack(rows)


def narm_scores(net, batch) -> Tensor:
    rows = []
    for b in range(batch.items.shape[0]):
        prefix = chronological(batch, b)
        states = gru_states(net.encoder.gru, [net.embedding.weight[i] for i in prefix])
        states = states[::-1]  # most recent first
        local, _ = last_item_attention(net.attention, states)
        context = net.decoder.weight @ torch.cat([local, states[0]])
        rows.append(
            torch.stack([context @ net.embedding.weight[j] for j in range(1, net.num_items + 1)])
        )
    return torch.stack(rows)


def gru4rec_scores(net, batch) -> Tensor:
    rows = []
    for b in range(batch.items.shape[0]):
        prefix = chronological(batch, b)
        final = gru_states(net.encoder.gru, [net.embedding.weight[i] for i in prefix])[-1]
        if net.projection is not None:
            final = net.projection.weight @ final + net.projection.bias
        rows.append(
            torch.stack([final @ net.embedding.weight[j] for j in range(1, net.num_items + 1)])
        )
    return torch.stack(rows)


def fpmc_scores(net, batch) -> Tensor:
    rows = []
    for b in range(batch.items.shape[0]):
        prefix = chronological(batch, b)
        user = sum(net.item_factors.weight[i] for i in prefix) / len(prefix)
        last = net.last_factors.weight[prefix[-1]]
        rows.append(
            torch.stack(
                [
                    user @ net.item_factors.weight[j] + last @ net.next_factors.weight[j]
                    for j in range(1, net.num_items + 1)
                ]
            )
        )
    return torch.stack(rows)


def gcegnn_scores(net, batch) -> Tensor:
    """GCE-GNN in eval mode, hop 1, one node and one neighbour at a time."""
    emb = net.embedding.weight
    rows = []
    for b in range(batch.items.shape[0]):
        prefix = chronological(batch, b)
        session_mean = sum(emb[i] for i in prefix) / len(prefix)
        nodes = [int(v) for v in batch.nodes[b]]
        local = naive.local(
            net.local_aggregator, emb[batch.nodes[b]].unsqueeze(0), batch.adjacency[b : b + 1]
        )[0]
        node_vectors = []
        for index, item in enumerate(nodes):
            neighbours = net.global_neighbors[item]
            global_vector = naive.global_one(
                net.global_aggregators[0],
                emb[item],
                emb[neighbours],
                net.global_weights[item],
                session_mean,
                (neighbours != 0) if net.neighbor_padding == "masked" else None,
            )
            node_vectors.append(local[index] + global_vector)
        states = [node_vectors[nodes.index(item)] for item in reversed(prefix)]
        session, _ = positional_readout(net.readout, states)
        rows.append(torch.stack([session @ emb[j] for j in range(1, net.num_items + 1)]))
    return torch.stack(rows)
