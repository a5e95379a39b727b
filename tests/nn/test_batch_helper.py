"""The test helper builds the batch the contract describes (checked by hand and against the
reference loader's own output saved in reference-step)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.nn.helpers import make_batch


def test_hand_built_session_with_a_repeat():
    # Chronological 7 -> 3 -> 5 -> 3, i.e. reversed [3, 5, 3, 7]; nodes sorted: 3, 5, 7.
    batch = make_batch([[7, 3, 5, 3]], targets=[1], length=5)
    assert batch.items.tolist() == [[3, 5, 3, 7, 0]]
    assert batch.mask.tolist() == [[True] * 4 + [False]]
    assert batch.nodes.tolist() == [[3, 5, 7, 0, 0]]
    assert batch.alias.tolist()[0][:4] == [0, 1, 0, 2]
    adjacency = batch.adjacency[0, :3, :3].tolist()
    # Row 3: 5 precedes and follows it (in-out = 4), 7 precedes it (in = 2).
    # Row 5: 3 precedes and follows it (4). Row 7: 3 follows it (out = 3).
    assert adjacency == [[1, 4, 2], [4, 1, 0], [3, 0, 1]]
    assert not batch.adjacency[0, 3:].any() and not batch.adjacency[0, :, 3:].any()


def test_immediate_repeat_adds_no_edge():
    batch = make_batch([[2, 2, 4]])
    assert batch.nodes.tolist() == [[2, 4, 0]]
    # 2 -> 2 adds nothing; 2 -> 4: row 4 has in-edge from 2, row 2 has out-edge to 4.
    assert batch.adjacency[0, :2, :2].tolist() == [[1, 3], [2, 1]]


@pytest.mark.shared_data
def test_matches_reference_loader(shared_data):
    z = np.load(shared_data("reference-step") / "reference_step.npz", allow_pickle=False)
    flat, lengths = z["batch/prefixes_flat"].tolist(), z["batch/prefix_lengths"].tolist()
    prefixes = [flat[s - n : s] for s, n in zip(np.cumsum(lengths), lengths, strict=True)]
    batch = make_batch(prefixes, z["batch/targets"].tolist())
    assert np.array_equal(batch.items.numpy(), z["batch/reversed_padded_inputs"])
    assert np.array_equal(batch.mask.numpy(), z["batch/mask"].astype(bool))
    ref_nodes, ref_alias, ref_adj = (
        z["batch/unique_items"],
        z["batch/alias"],
        z["batch/session_adjacency"],
    )
    for b in range(len(prefixes)):
        real = batch.mask[b].numpy()
        # Same item at every real position, whichever node order.
        ours = batch.nodes[b].numpy()[batch.alias[b].numpy()][real]
        theirs = ref_nodes[b][ref_alias[b]][real]
        assert np.array_equal(ours, theirs)
        # Same edge type between every pair of real items.
        ours_index = {int(v): i for i, v in enumerate(batch.nodes[b]) if batch.node_mask[b, i]}
        theirs_index = {int(v): i for i, v in enumerate(ref_nodes[b]) if v != 0}
        assert ours_index.keys() == theirs_index.keys()
        for u, i in ours_index.items():
            for v, j in ours_index.items():
                assert batch.adjacency[b, i, j] == ref_adj[b, theirs_index[u], theirs_index[v]]
    assert torch.equal(batch.lengths, torch.as_tensor(lengths))
