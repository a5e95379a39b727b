"""``IndexRecommender``: a non-parametric model around one index of :mod:`dmi_gnn.nonparametric`.

S-POP, SKNN and V-SKNN are thin subclasses: they set :attr:`IndexRecommender.INDEX` and list the
index's options in their constructor (so the command line and the checkpoint's hyper-parameters
carry them); building, storing, restoring and scoring are done here, once. The index sees the
fit sessions only, in their chronological order (``datamodule.fit_sessions``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from datamodules.batch import SessionBatch
from datamodules.processed import Sessions
from dmi_gnn.nonparametric_recommender import NonparametricRecommender

#: Model option -> index option, where the index's name would clash with the datamodule's
#: hyper-parameters (Lightning merges both into one logged set).
_RENAMED = {"sample_seed": "seed"}

#: Hyper-parameters of the frame, not of the index: the base class's own arguments.
_FRAME_OPTIONS = frozenset(inspect.signature(NonparametricRecommender.__init__).parameters) - {
    "self"
}


def session_arrays(sessions: Sessions) -> list[np.ndarray]:
    """The flat ``sessions`` as one id array per session, in their stored order."""
    return np.split(sessions.items, sessions.offsets[1:-1]) if len(sessions) else []


class IndexRecommender(NonparametricRecommender):
    """A :class:`NonparametricRecommender` whose index is ``INDEX(num_items, **options)``.

    The options are the constructor arguments that are not the frame's (``num_items``,
    ``top_k``, ``metric_ks``, ``max_session_length``, ``max_batch_cells``). The index is
    checked at construction (bad options fail before any data is read).
    """

    #: The index class (``dmi_gnn.nonparametric``): ``fit``, ``scores``, ``state``, ``from_state``.
    INDEX: ClassVar[type | None] = None

    def __init__(self, **options: Any) -> None:
        # The index options reach the hyper-parameters from the subclass's own signature.
        super().__init__(**{k: v for k, v in options.items() if k in _FRAME_OPTIONS})
        self.index = self.INDEX(max(int(self.hparams.num_items), 1), **self.index_options())

    def index_options(self) -> dict[str, Any]:
        """The index's keyword options, from the hyper-parameters."""
        return {
            _RENAMED.get(k, k): v
            for k, v in self.hparams.items()
            if k not in _FRAME_OPTIONS and not k.startswith("_")
        }

    def build_index(self, sessions: Sessions) -> dict[str, Tensor]:
        index = self.INDEX(self.hparams.num_items, **self.index_options())
        return index.fit(session_arrays(sessions)).state()

    def load_index(self, index: Mapping[str, Tensor]) -> None:
        self.index = self.INDEX.from_state(dict(index), self.index_options())

    def index_state(self) -> dict[str, Tensor]:
        return self.index.state()

    def scores(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of the index for the batch's reversed prefixes."""
        self.require_index()
        return self.index.scores(batch.items.cpu(), batch.mask.cpu()).to(batch.items.device)
