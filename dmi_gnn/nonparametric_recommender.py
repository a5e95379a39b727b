"""``NonparametricRecommender``: the base of Pop, S-POP, SKNN and V-SKNN.

A non-parametric model has no weights to learn: it keeps an *index* built from the fit split
only (the fit sessions, in chronological order: :attr:`SessionDataModule.fit_sessions`; never
a validation or test session) and scores a prefix against it. Its life under Lightning:

* ``fit``: :meth:`setup` builds the index (:meth:`build_index`) from the datamodule's fit
  sessions; the training loop runs one manual-optimisation step on no parameters (so the
  checkpoint callbacks see a step) and stops after one epoch; validation and the final test run
  as for any model. No optimiser, no gradient.
* the index lives in the checkpoint (extra state, beside the vocabulary), so ``predict``,
  ``test`` and :meth:`~dmi_gnn.recommender.SessionRecommender.recommend` need the checkpoint
  alone.

A subclass defines :meth:`build_index` (a dict of tensors), :meth:`load_index` (install such a
dict) and :meth:`scores`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from datamodules.batch import SessionBatch
from datamodules.batching import DEFAULT_MAX_BATCH_CELLS, DEFAULT_MAX_LEN
from datamodules.processed import Sessions
from dmi_gnn.recommender import SessionRecommender

#: Prefix of the index tensors in the module's extra state (the vocabulary's keys have none).
INDEX_PREFIX = "index_"

#: Lightning's notice for a fit without optimiser: by design here, it would only confuse.
_NO_OPTIMIZER = r".*configure_optimizers.* returned `None`, this fit will run with no"


class NonparametricRecommender(SessionRecommender):
    """Base of the index-based models (see the module docstring).

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the most recent clicks of a prefix that are read.
        max_batch_cells: largest ``B * L * L`` per evaluation pass (sub-batching).
    """

    def __init__(
        self,
        num_items: int = 0,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__(
            num_items=num_items,
            top_k=top_k,
            metric_ks=metric_ks,
            max_session_length=max_session_length,
            max_batch_cells=max_batch_cells,
        )
        self.automatic_optimization = False
        #: Whether an index was built or restored.
        self.index_ready = False

    # --------------------------------------------------------------- what a subclass supplies
    def build_index(self, sessions: Sessions) -> dict[str, Tensor]:
        """The index of the fit sessions (chronological), as named tensors."""
        raise NotImplementedError(f"{type(self).__name__} must define build_index(sessions)")

    def load_index(self, index: Mapping[str, Tensor]) -> None:
        """Install an index made by :meth:`build_index` (or restored from a checkpoint)."""
        raise NotImplementedError(f"{type(self).__name__} must define load_index(index)")

    def index_state(self) -> dict[str, Tensor]:
        """The installed index as named tensors (what the checkpoint stores)."""
        raise NotImplementedError(f"{type(self).__name__} must define index_state()")

    def training_loss(self, batch: SessionBatch) -> Tensor:
        raise RuntimeError(f"{type(self).__name__} is not trained by gradient steps")

    # ------------------------------------------------------------------------ index lifecycle
    def fit_index(self, sessions: Sessions) -> None:
        """Build the index from ``sessions`` (the fit sessions) and install it."""
        self.load_index(self.build_index(sessions))
        self.index_ready = True

    def adopt_data(self, datamodule: Any) -> None:
        super().adopt_data(datamodule)
        self.fit_index(datamodule.fit_sessions)

    def has_fit_data(self) -> bool:
        return self.index_ready

    def get_extra_state(self) -> dict[str, Tensor]:
        """The vocabulary and the index (``index_<name>``), as plain tensors."""
        state = super().get_extra_state()
        if self.index_ready:
            state.update({f"{INDEX_PREFIX}{k}": v for k, v in self.index_state().items()})
        return state

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        index = {k[len(INDEX_PREFIX) :]: v for k, v in state.items() if k.startswith(INDEX_PREFIX)}
        super().set_extra_state({k: v for k, v in state.items() if not k.startswith(INDEX_PREFIX)})
        if index:
            self.load_index(index)
            self.index_ready = True

    def require_index(self) -> None:
        """Raise unless an index is installed."""
        if not self.index_ready:
            raise RuntimeError(
                f"{type(self).__name__} has no index: fit it (or load a checkpoint) first"
            )

    # --------------------------------------------------------------- one step, no optimiser
    def configure_optimizers(self) -> None:
        return None

    def training_step(self, batch: SessionBatch, batch_idx: int) -> None:
        """No gradient: one step on no parameters, so checkpointing sees a finished step."""
        self.optimizers().step()
        self.log("train/loss", 0.0, batch_size=batch.batch_size)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit" and self._trainer is not None:
            self.trainer.limit_train_batches = 1  # one step is all there is (read after setup)
            warnings.filterwarnings("ignore", message=_NO_OPTIMIZER)

    def on_train_epoch_end(self) -> None:
        self.trainer.should_stop = True  # the index does not change with more epochs
