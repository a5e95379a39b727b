r"""``MultiInterestRecommender``: what the MIND, ComiRec-SA and ComiRec-DR models share.

Each wraps a :class:`~dmi_gnn.nn.networks.multi_interest.MultiInterestNetwork` and adds to
:class:`~dmi_gnn.neural_recommender.NeuralRecommender` two things only:

* the two training modes are the network's: ``training="reference"`` (as the published code:
  the label-aware interest, the MIND paper's attention with :math:`p \to \infty`, i.e. the
  hard argmax, then a sampled softmax with logQ correction) trains on ``net.training_loss``;
  ``"aligned"`` (as DMI-GNN) has no such loss, so the base class applies full cross-entropy to
  the max over interests (baselines.md section 5). Evaluation, ``val/loss`` included, ranks
  the full catalogue in both.
* with ``negative_sampler="popularity"``, :meth:`adopt_data` installs the click counts of the
  **fit** sessions (``datamodule.fit_sessions``; no validation or test click) in the network, so
  the proposal :math:`(c_j + 1)^{\alpha}` never sees held-out data. The counts live in the
  network's buffers, hence in the checkpoint.

The network's ``max_length`` (its positional table, ComiRec-DR's per-position maps) is the
model's ``max_session_length``: one number cuts the data and sizes the layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dmi_gnn.neural_recommender import NeuralRecommender


class MultiInterestRecommender(NeuralRecommender):
    """Base of MIND, ComiRec-SA and ComiRec-DR (module docstring); not registered itself."""

    def adopt_data(self, datamodule: Any) -> None:
        """The vocabulary and, for popularity negatives, the fit split's item click counts."""
        super().adopt_data(datamodule)
        if self.net.negative_sampler == "popularity":
            self.net.set_item_counts(fit_click_counts(datamodule, self.hparams.num_items))


def fit_click_counts(datamodule: Any, num_items: int) -> torch.Tensor:
    """``(num_items + 1,)`` clicks of each item id in ``datamodule.fit_sessions`` (entry 0: 0)."""
    items = np.asarray(datamodule.fit_sessions.items)
    if items.size and (items.min() < 1 or items.max() > num_items):
        raise ValueError(
            f"the fit sessions hold item ids outside 1..{num_items} "
            f"(found {int(items.min())}..{int(items.max())})"
        )
    counts = np.bincount(items, minlength=num_items + 1)
    counts[0] = 0
    return torch.as_tensor(counts, dtype=torch.float32)
