"""MGIR's layers against naive per-item / per-position Python loops."""

from __future__ import annotations

import math

import pytest
import torch

from dmi_gnn.nn.cooccurrence_relation_layer import CooccurrenceRelationLayer
from dmi_gnn.nn.incompatible_relation_layer import IncompatibleRelationLayer
from dmi_gnn.nn.position_norm_attention_readout import PositionNormAttentionReadout
from dmi_gnn.nn.sequential_relation_layer import SequentialRelationLayer
from dmi_gnn.nn.sparse_rows import row_normalised_csr, sparse_rows_matmul
from dmi_gnn.nn.target_token_readout import TargetTokenReadout
from tests.nn.conftest import SESSIONS
from tests.nn.helpers import make_batch

D = 6
#: A small weighted directed graph over items 0..5 (row 0 = padding, empty), with a self loop.
EDGES = {(1, 2): 3.0, (2, 1): 1.0, (1, 3): 2.0, (3, 3): 4.0, (4, 1): 1.0, (5, 2): 2.0, (2, 4): 1.0}


def _graph():
    indices = torch.tensor(list(EDGES)).t()
    return indices, torch.tensor(list(EDGES.values()))


def _dense_normalised(transpose: bool):
    a = torch.zeros(6, 6, dtype=torch.float64)
    for (i, j), w in EDGES.items():
        a[i, j] = w
    if transpose:
        a = a.t().clone()
    for i in range(6):
        total = sum(a[i, j] for j in range(6))
        if total > 0:
            for j in range(6):
                a[i, j] = a[i, j] / total
    return a


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("rows", [None, [3, 1, 1, 0, 5]])
def test_sparse_rows_matmul_matches_a_loop(transpose, rows):
    indices, weights = _graph()
    crow, col, values = row_normalised_csr(indices, weights, 6, transpose)
    x = torch.randn(6, D, dtype=torch.float64, requires_grad=True)
    got = sparse_rows_matmul(crow, col, values, x, None if rows is None else torch.tensor(rows))
    a = _dense_normalised(transpose)
    wanted_rows = range(6) if rows is None else rows
    expected = torch.stack(
        [
            sum((a[r, j] * x[j] for j in range(6)), torch.zeros(D, dtype=x.dtype))
            for r in wanted_rows
        ]
    )
    torch.testing.assert_close(got, expected.to(got.dtype), rtol=1e-6, atol=1e-6)
    (grad,) = torch.autograd.grad(got.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad, expected_grad.to(grad.dtype), rtol=1e-6, atol=1e-6)


@torch.no_grad()
def test_sequential_layer_matches_a_loop():
    layer = SequentialRelationLayer(D).double()
    x, n_in, n_out = (torch.randn(4, D, dtype=torch.float64) for _ in range(3))
    got = layer(x, n_in, n_out)
    w0, w1 = layer.fuse_weight.tolist()
    for v in range(4):
        e_in = sum(max(0.0, float(r)) for r in layer.in_score(x[v] * n_in[v])) / math.sqrt(D)
        e_out = sum(max(0.0, float(r)) for r in layer.out_score(x[v] * n_out[v])) / math.sqrt(D)
        g_in = math.exp(e_in) / (math.exp(e_in) + math.exp(e_out))
        mixed = g_in * n_in[v] + (1 - g_in) * n_out[v]
        expected = w0 * x[v] + w1 * mixed + layer.fuse_bias
        torch.testing.assert_close(got[v], expected)


def test_cooccurrence_and_incompatible_layers_match_loops():
    co = CooccurrenceRelationLayer(D).double()
    inc = IncompatibleRelationLayer()
    x, n_a, n_b = (torch.randn(3, D, dtype=torch.float64) for _ in range(3))
    got_co, got_inc = co(x, n_a), inc(x, n_a, n_b)
    for v in range(3):
        c1, c2 = co.fuse_weight.tolist()
        torch.testing.assert_close(got_co[v], c1 * n_a[v] + c2 * x[v] + co.fuse_bias)
        torch.testing.assert_close(got_inc[v], (x[v] + n_a[v] + n_b[v]) / 2)


def test_gnn_dropout_is_on_in_training_and_off_in_evaluation():
    layer = CooccurrenceRelationLayer(D, dropout=0.5)
    x = torch.randn(50, D)
    assert (layer(x, x) == 0).any()
    layer.eval()
    assert not (layer(x, x) == 0).any()


def _hidden(batch):
    hidden = torch.randn(*batch.items.shape, D, dtype=torch.float64)
    return hidden * batch.mask.unsqueeze(-1)


def test_target_token_readout_matches_a_loop():
    batch = make_batch(SESSIONS)
    readout = TargetTokenReadout(D, max_positions=3).double()
    hidden = _hidden(batch)
    got = readout(hidden, batch.mask)
    p = readout.position_embedding.weight
    w = readout.readout_weight
    q = torch.tanh(torch.cat([p[0], readout.target_token]) @ w)
    for b, prefix in enumerate(SESSIONS):
        total = torch.zeros(D, dtype=torch.float64)
        for i in range(len(prefix)):  # reversed position i uses row i + 1, clamped at 3
            z = torch.tanh(torch.cat([p[min(i + 1, 3)], hidden[b, i]]) @ w)
            gate = torch.sigmoid(readout.gate(z) + readout.query_gate(q))
            total = total + float(gate @ readout.query) * hidden[b, i]
        torch.testing.assert_close(got[b], total)


@pytest.mark.parametrize("training", [True, False])
def test_position_norm_attention_readout_matches_a_loop(training):
    batch = make_batch(SESSIONS)
    readout = PositionNormAttentionReadout(D, max_positions=8).double()
    with torch.no_grad():
        readout.norm.running_mean.uniform_(-0.5, 0.5)
        readout.norm.running_var.uniform_(0.5, 2.0)
    readout.train(training)
    hidden = _hidden(batch)
    got = readout(hidden, batch.mask)
    norm, length = readout.norm, hidden.shape[1]
    normalised = torch.zeros_like(hidden)
    for i in range(length):  # position i's statistics over the batch and d, padding included
        column = hidden[:, i]
        if training:
            mean, var = column.mean(), column.var(unbiased=False)
        else:
            mean, var = norm.running_mean[i], norm.running_var[i]
        normalised[:, i] = (column - mean) / torch.sqrt(var + norm.eps) * norm.weight[
            i
        ] + norm.bias[i]
    for b, prefix in enumerate(SESSIONS):
        energies = []
        for i in range(len(prefix)):
            key = readout.key(normalised[b, i]) + readout.query(hidden[b, 0])
            energies.append(readout.energy(torch.sigmoid(key)))
        beta = torch.softmax(torch.cat(energies), 0)
        pooled = sum(beta[i] * normalised[b, i] for i in range(len(prefix)))
        torch.testing.assert_close(got[b], readout.activation(pooled.unsqueeze(0))[0])


def test_position_norm_updates_only_the_used_positions_in_training():
    batch = make_batch(SESSIONS)
    readout = PositionNormAttentionReadout(D, max_positions=8)
    readout(_hidden(batch).float(), batch.mask)
    length = batch.items.shape[1]
    assert (readout.norm.running_mean[:length] != 0).all()
    assert (readout.norm.running_mean[length:] == 0).all()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SequentialRelationLayer(0), "dim"),
        (lambda: CooccurrenceRelationLayer(4, dropout=2.0), "dropout"),
        (lambda: IncompatibleRelationLayer(dropout=-0.1), "dropout"),
        (lambda: TargetTokenReadout(4, max_positions=0), "max_positions"),
        (lambda: PositionNormAttentionReadout(4, dropout=1.5), "dropout"),
    ],
)
def test_bad_layer_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()
