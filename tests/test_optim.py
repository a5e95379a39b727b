"""LazyAdam: torch's Adam on dense gradients, a row-lazy Adam on sparse ones."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dmi_gnn.optim import LazyAdam


def _run(optimizer_class, sparse: bool, steps: int = 5, **kwargs):
    torch.manual_seed(0)
    table = nn.Embedding(20, 4, sparse=sparse)
    linear = nn.Linear(4, 1)
    optimizer = optimizer_class([*table.parameters(), *linear.parameters()], **kwargs)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        ids = torch.randint(0, 8, (6,), generator=generator)  # rows 8..19 never read
        optimizer.zero_grad()
        linear(table(ids)).square().sum().backward()
        optimizer.step()
    return table.weight.detach(), linear.weight.detach(), optimizer


@pytest.mark.parametrize(
    ("reference", "kwargs"),
    [
        (torch.optim.Adam, {"lr": 0.01}),
        (torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
        (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    ],
)
def test_dense_gradients_get_torchs_adam_update(reference, kwargs):
    decoupled = reference is torch.optim.AdamW
    ours = _run(LazyAdam, sparse=False, decoupled=decoupled, **kwargs)
    theirs = _run(reference, sparse=False, **kwargs)
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-6, atol=1e-7)


def test_sparse_gradients_match_torchs_sparse_adam_and_leave_other_rows_alone():
    torch.manual_seed(0)
    start = nn.Embedding(20, 4).weight.detach().clone()
    ours_table, ours_linear, optimizer = _run(LazyAdam, sparse=True, lr=0.01)
    assert not optimizer.state[next(iter(optimizer.state))]["exp_avg"][8:].any()
    torch.testing.assert_close(ours_table[8:], start[8:])  # never-read rows unchanged

    torch.manual_seed(0)
    table, linear = nn.Embedding(20, 4, sparse=True), nn.Linear(4, 1)
    sparse_opt = torch.optim.SparseAdam(table.parameters(), lr=0.01)
    dense_opt = torch.optim.Adam(linear.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        ids = torch.randint(0, 8, (6,), generator=generator)
        sparse_opt.zero_grad()
        dense_opt.zero_grad()
        linear(table(ids)).square().sum().backward()
        sparse_opt.step()
        dense_opt.step()
    torch.testing.assert_close(ours_table, table.weight.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours_linear, linear.weight.detach(), rtol=1e-6, atol=1e-7)


def test_sparse_rows_get_the_coupled_l2_term_of_their_own_values():
    weight = nn.Parameter(torch.ones(3, 2))
    optimizer = LazyAdam([weight], lr=0.1, weight_decay=1.0)
    weight.grad = torch.sparse_coo_tensor([[1]], torch.zeros(1, 2), (3, 2), check_invariants=True)
    optimizer.step()
    # only row 1 moves: its gradient is the L2 term 1.0, Adam's first step is -lr * sign
    expected = torch.tensor([[1.0, 1.0], [0.9, 0.9], [1.0, 1.0]])
    torch.testing.assert_close(weight.detach(), expected, rtol=0, atol=1e-6)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="LazyAdam: lr, eps and weight_decay"):
        LazyAdam([nn.Parameter(torch.ones(1))], lr=-1.0)
