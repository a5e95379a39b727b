"""One training step of the published DMI-GNN code, reproduced.

``shared/data/reference-step/reference_step.npz`` holds the inputs, parameters, outputs and
gradients of one step of the published code (see its README). Two independent checks:

1. our network in reference semantics, loaded with those parameters, reproduces the saved
   scores, loss terms, top-20 lists, every gradient and one coupled-L2 Adam step;
2. a direct loop transcription of the published computation (written below in plain torch,
   one sample / position / neighbour / interest at a time, using none of our layers, fed the
   reference loader's own node order with item 0 first) agrees with our loss and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dmi_gnn.losses import interest_regularizer, item_cross_entropy
from dmi_gnn.nn import (
    DMIGNNNet,
    load_reference_parameters,
    reference_gradients,
    reference_parameters,
)
from dmi_gnn.semantics import NETWORK_SEMANTICS_OPTIONS, resolve_semantics
from tests.nn.helpers import make_batch

pytestmark = pytest.mark.shared_data

BETA, ETA = 0.01, 3.0
NUM_ITEMS, DIM, INTERESTS = 59, 100, 3


@pytest.fixture
def step(shared_data):
    path = shared_data("reference-step") / "reference_step.npz"
    with np.load(path, allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def _prefixes(step):
    flat, lengths = step["batch/prefixes_flat"].tolist(), step["batch/prefix_lengths"].tolist()
    ends = np.cumsum(lengths)
    return [flat[end - n : end] for end, n in zip(ends, lengths, strict=True)]


def _params(step):
    return {key[len("param/") :]: step[key] for key in step if key.startswith("param/")}


def _our_step(step, scoring="max"):
    semantics = resolve_semantics("reference")
    net = DMIGNNNet(
        num_items=NUM_ITEMS,
        embedding_dim=DIM,
        num_interests=INTERESTS,
        hop=1,
        num_neighbors=12,
        dropout_local=0.0,
        dropout_global=0.0,
        dropout_gcn=0.0,
        scoring=scoring,
        **{name: semantics[name] for name in NETWORK_SEMANTICS_OPTIONS},
    )
    load_reference_parameters(net, _params(step))
    net.set_global_graph(
        torch.as_tensor(step["global/adj"]), torch.as_tensor(step["global/weight"])
    )
    net.train()
    batch = make_batch(_prefixes(step), step["batch/targets"].tolist())
    out = net(batch)
    ce = item_cross_entropy(out.scores, batch.targets)
    reg = BETA * interest_regularizer(
        "dmi", out.attention, batch.mask, batch.lengths, ETA, semantics["regularizer_reduction"]
    )
    return net, out, ce, reg


def test_scores_loss_gradients_and_top20_match_the_saved_step(step):
    net, out, ce, reg = _our_step(step)
    np.testing.assert_allclose(out.scores.detach().numpy(), step["out/max_scores"], 1e-5, 1e-6)
    _, sum_out, _, _ = _our_step(step, scoring="sum")
    np.testing.assert_allclose(sum_out.scores.detach().numpy(), step["out/sum_scores"], 1e-5, 1e-6)
    loss = ce + reg
    assert ce.item() == pytest.approx(float(step["out/ce"]), rel=1e-6)
    assert reg.item() == pytest.approx(float(step["out/dmi_term"]), rel=1e-6)
    assert loss.item() == pytest.approx(float(step["out/loss"]), rel=1e-6)
    top20 = out.scores.topk(20, dim=1).indices + 1
    np.testing.assert_array_equal(top20.numpy(), step["out/top20"])

    loss.backward()
    ours = reference_gradients(net)
    saved = {key[len("grad/") :]: step[key] for key in step if key.startswith("grad/")}
    assert set(ours) == set(saved)  # the same parameters get a gradient
    for name, grad in saved.items():
        scale = float(np.abs(grad).max())
        np.testing.assert_allclose(
            ours[name].numpy(), grad, rtol=1e-5, atol=1e-5 * scale, err_msg=name
        )

    # One step of the reference optimiser, Adam with coupled L2, moves our parameters as it moved
    # theirs (the layouts differ by reshapes only; Adam is element-wise). A first Adam step is
    # lr * g / (|g| + eps) with g = grad + 1e-5 * p, so a gradient error dg moves it by
    # lr * eps * dg / (|g| + eps)^2: where the task gradient and the L2 term nearly cancel, the
    # float32 round-off allowed above (dg) decides the step. The tolerance follows that bound.
    lr, weight_decay, eps = 1e-3, 1e-5, 1e-8
    torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay).step()
    after = reference_parameters(net)
    for name, value in after.items():
        before, expected = step[f"param/{name}"], step[f"param_after_adam_step/{name}"]
        task_grad = step[f"grad/{name}"]
        grad_error = 1e-5 * np.abs(task_grad).max()  # the gradient tolerance above
        total = np.abs(task_grad + weight_decay * before)
        tolerance = np.minimum(lr * eps * grad_error / (total + eps) ** 2, 2 * lr) + 1e-7
        difference = np.abs(value.numpy() - expected)
        assert (difference <= tolerance).all(), (name, difference.max())
        assert (tolerance < 0.1 * lr).mean() > 0.9, name  # a wrong step is caught


def reference_loop(step, params):
    """The published forward pass and loss, one element at a time (model.py, aggregator.py)."""
    E = params["embedding.weight"]
    P = params["pos_embedding.weight"]
    a = [params[f"local_agg.a_{r}"] for r in range(4)]
    gw1, gw2, gw3 = (params[f"agg_gcn_0.w_{i}"] for i in (1, 2, 3))
    w_1, w_2 = params["w_1"], params["w_2"]
    glu_w, glu_b = params["glu1.weight"], params["glu1.bias"]
    nodes = step["batch/unique_items"]  # np.unique order: item 0 first where padded
    alias = step["batch/alias"]
    adj = step["batch/session_adjacency"]
    mask = step["batch/mask"]
    u_input = step["batch/reversed_padded_inputs"]
    targets = step["batch/targets"]
    adj_all, num = step["global/adj"], step["global/weight"].astype(np.float32)
    batch_size, length = u_input.shape
    d, heads = w_2.shape

    candidates = [F.normalize(E[j], p=2.0, dim=0) for j in range(1, E.shape[0])]
    losses, regs = [], []
    for b in range(batch_size):
        # Local branch on normalised node embeddings.
        h = [F.normalize(E[int(n)], p=2.0, dim=0) for n in nodes[b]]
        h_local = []
        for i in range(length):
            logits = []
            for j in range(length):
                r = int(adj[b, i, j])
                if r == 0:
                    logits.append(torch.tensor(-9e15))
                else:
                    e = ((h[i] * h[j]).unsqueeze(0) @ a[r - 1]).squeeze()
                    logits.append(F.leaky_relu(e, 0.2))
            alpha = torch.softmax(torch.stack(logits), 0)
            h_local.append(sum(alpha[j] * h[j] for j in range(length)))
        # Session mean of raw embeddings over the real positions.
        real = [t for t in range(length) if mask[b, t]]
        s = sum(E[int(u_input[b, t])] for t in real) / len(real)
        # Global branch, one hop, raw embeddings.
        h_global = []
        for i in range(length):
            v = int(nodes[b, i])
            neighbours = [E[int(n)] for n in adj_all[v]]
            logits = []
            for k in range(len(neighbours)):
                x = torch.cat([s * neighbours[k], torch.tensor([num[v, k]])]) @ gw1
                logits.append((F.leaky_relu(x, 0.2) @ gw2).squeeze())
            pi = torch.softmax(torch.stack(logits), 0)
            h_n = sum(pi[k] * neighbours[k] for k in range(len(neighbours)))
            h_global.append(torch.relu(torch.cat([E[v], h_n]) @ gw3))
        seq = [h_local[int(alias[b, t])] + h_global[int(alias[b, t])] for t in range(length)]
        # Readout: un-normalised attention per position and interest.
        alpha = [[None] * heads for _ in range(length)]
        for t in range(length):
            z = torch.tanh(torch.cat([P[t], seq[t]]) @ w_1)
            g = torch.sigmoid(glu_w @ z + glu_b)
            for u in range(heads):
                alpha[t][u] = (g[u * d : (u + 1) * d] * w_2[:, u]).sum() * float(mask[b, t])
        interests = [sum(alpha[t][u] * seq[t] for t in range(length)) for u in range(heads)]
        # Eq. 10 as coded, for this session.
        columns = [
            F.normalize(torch.stack([alpha[t][u] for t in range(length)]), p=2.0, dim=0)
            for u in range(heads)
        ]
        sim = (
            sum(
                torch.abs((columns[u] * columns[v]).sum())
                for u in range(heads)
                for v in range(u + 1, heads)
            )
            * 2
            / (heads * (heads - 1))
        )
        regs.append(torch.sigmoid(sim * (len(real) - ETA)))
        # Eq. 6 (max over interests) and the cross-entropy of this session.
        row = torch.stack(
            [torch.stack([interests[u] @ c for u in range(heads)]).max() for c in candidates]
        )
        losses.append(-torch.log_softmax(row, 0)[int(targets[b]) - 1])
    ce = torch.stack(losses).mean()
    reg = BETA * torch.stack(regs).sum()
    return ce, reg


def test_loop_transcription_agrees_with_our_network(step):
    params = {
        name: torch.tensor(value, requires_grad=True) for name, value in _params(step).items()
    }
    ce, reg = reference_loop(step, params)
    (ce + reg).backward()
    # The transcription reproduces the saved step ...
    assert ce.item() == pytest.approx(float(step["out/ce"]), rel=1e-5)
    assert reg.item() == pytest.approx(float(step["out/dmi_term"]), rel=1e-5)

    # ... and our network agrees with it.
    net, _, our_ce, our_reg = _our_step(step)
    (our_ce + our_reg).backward()
    assert our_ce.item() == pytest.approx(ce.item(), rel=1e-6)
    assert our_reg.item() == pytest.approx(reg.item(), rel=1e-6)
    ours = reference_gradients(net)
    for name, grad in ours.items():
        theirs = params[name].grad
        scale = float(theirs.abs().max())
        torch.testing.assert_close(grad, theirs, rtol=1e-5, atol=1e-5 * scale, msg=name)
    unused = {n for n in params if n not in ours}
    assert unused == {"local_agg.bias", "agg_gcn_0.bias", "glu2.weight", "linear_transform.weight"}
    assert all(params[n].grad is None for n in unused)
