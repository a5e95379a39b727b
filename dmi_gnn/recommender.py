"""``SessionRecommender``: the LightningModule every model of the family derives from.

It owns everything that is not model-specific: the vocabulary (raw item ids in and out, stored
in the checkpoint), the ranking metrics and their log names (``val/HR@20``, ``test/MRR@20``,
...), the exact validation/test losses, the validation/test/predict steps, :meth:`recommend`,
the ``max_session_length`` cut and the ``max_batch_cells`` sub-batching, the data identity
checks, a weights-only :meth:`load_from_checkpoint` and the optimiser with its schedule
(coupled-L2 Adam + StepLR as published, or AdamW).

A model file supplies (see README, "Architecture"):

* ``FEATURES``: the batch features it reads (:mod:`datamodules.batch`);
* :meth:`scores`: ``(B, N)`` scores of items ``1..N`` for a batch;
* :meth:`training_loss`: a scalar, or a mapping with ``"loss"`` and named parts (each logged as
  ``train/<name>``; declare the names in ``TRAINING_LOGS`` so the CLI accepts them as monitors);
* optionally :meth:`adopt_data` / :meth:`has_fit_data` for state taken from the datamodule
  (a global graph, an index).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor, nn

from datamodules.batch import SESSION_GRAPH, SessionBatch, check_features
from datamodules.batching import (
    DEFAULT_MAX_BATCH_CELLS,
    DEFAULT_MAX_LEN,
    collate_sessions,
    split_batch,
    sub_batch_bounds,
    truncate_batch,
)
from datamodules.vocab import Vocabulary
from dmi_gnn import data_identity
from dmi_gnn.checkpoints import load_checkpoint
from dmi_gnn.errors import CheckpointError, DataMismatchError
from dmi_gnn.hparams import validate_hyperparameters
from dmi_gnn.metrics import RankingMetrics, SampleMean

log = logging.getLogger(__name__)

#: Key of the model's class path in a checkpoint (:func:`dmi_gnn.models.load_model`).
MODEL_CLASS_KEY = "dmi_gnn_model"


class Recommendation(NamedTuple):
    """Top-K recommendation for one session of raw item ids.

    Attributes:
        items: raw ids of the recommended items, best first (empty when ``error`` is set).
        scores: their scores, same order.
        unknown: raw ids of the session that the vocabulary does not know (skipped).
        error: why no recommendation could be made, or None.
    """

    items: list
    scores: list[float]
    unknown: list
    error: str | None = None


def class_path(cls: type) -> str:
    """``module.QualName`` of a class (what the checkpoint records)."""
    return f"{cls.__module__}.{cls.__qualname__}"


class SessionRecommender(L.LightningModule):
    """Base of every session recommender (see the module docstring).

    Metrics: HR@K, MRR@K, NDCG@K and Cov@K over the full catalogue, logged as ``val/HR@20`` etc.
    (``test/...`` when the evaluation set is the test set, as in the paper protocol), and the
    exact mean cross-entropy ``val/loss`` / ``test/loss`` of :meth:`scores`.

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        optimizer: ``"adam"`` (coupled L2, as the published code) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables the schedule.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        metric_ks: the K values of the ranking metrics.
        max_session_length: the longest prefix the model reads: training, evaluation,
            ``predict_step`` and ``recommend`` keep its most recent clicks of longer sessions.
            Saved in the checkpoint; the datamodule follows it (an explicit ``--data.max_len``
            must agree).
        max_batch_cells: largest ``B * L * L`` run in one pass at evaluation, prediction and
            ``recommend``; larger batches are split into sub-batches with the same results.
    """

    #: Batch features the model reads (:mod:`datamodules.batch`); none by default.
    FEATURES: ClassVar[frozenset[str]] = frozenset()
    #: Names of the parts of :meth:`training_loss` logged as ``train/<name>`` besides the loss.
    TRAINING_LOGS: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        num_items: int = 0,
        optimizer: str = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__()
        check_features(type(self).FEATURES, type(self).__name__)
        self.save_hyperparameters()
        self._keep_own_hyperparameters()
        validate_hyperparameters(self.hparams)
        self.vocabulary = Vocabulary.identity(num_items)
        ks = tuple(sorted(set(int(k) for k in metric_ks)))
        # Targets come from validated data: skip the per-batch range check (a host sync).
        self.val_metrics = RankingMetrics(
            ks=ks, num_items=num_items, prefix="val/", validate_args=False
        )
        self.test_metrics = RankingMetrics(
            ks=ks, num_items=num_items, prefix="test/", validate_args=False
        )
        self.val_loss = SampleMean()
        self.test_loss = SampleMean()
        self._eval_prefix = "val"
        #: Sessions of the current predict run longer than ``max_session_length`` (logged).
        self._predict_cut = [0, 0]
        #: K of ``predict_step`` when set (the prediction writer's ``top_k``); else ``top_k``.
        self.predict_k: int | None = None
        #: The data the weights were trained on (see :mod:`dmi_gnn.data_identity`).
        self.data_identity: dict[str, Any] | None = None
        #: Whether the state taken from a datamodule (vocabulary, ...) is set (a fit or a load).
        self._fit_data = False

    def _keep_own_hyperparameters(self) -> None:
        """Drop base-class arguments the concrete class does not take (a non-parametric model
        has no ``lr``): ``hparams`` must rebuild exactly this class."""
        own = inspect.signature(type(self).__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values()):
            return
        for name in [name for name in self.hparams if name not in own]:
            if not name.startswith("_"):  # Lightning's own keys (_instantiator, _class_path)
                del self.hparams[name]

    # ------------------------------------------------------------------- what a model supplies
    def scores(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of items ``1..N`` (column ``j`` is item ``j + 1``)."""
        raise NotImplementedError(f"{type(self).__name__} must define scores(batch)")

    def training_loss(self, batch: SessionBatch) -> Tensor | Mapping[str, Tensor]:
        """The training loss of one batch: a scalar, or ``{"loss": ..., <part>: ...}``."""
        raise NotImplementedError(f"{type(self).__name__} must define training_loss(batch)")

    def adopt_data(self, datamodule: Any) -> None:
        """Take what the model keeps from the datamodule when fitting (default: vocabulary)."""
        self.vocabulary = datamodule.vocabulary
        self._fit_data = True

    def has_fit_data(self) -> bool:
        """Whether the model already holds its data state (then validate/test keep it)."""
        return self._fit_data

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of items ``1..N`` for a batch (column ``j`` is item ``j + 1``)."""
        return self.scores(batch)

    # ----------------------------------------------------------------------------- data hookup
    @property
    def uses_session_graph(self) -> bool:
        """Whether batches must carry the session graph (feature ``session_graph``)."""
        return SESSION_GRAPH in type(self).FEATURES

    def logged_names(self, split: str) -> set[str]:
        """Every metric name this model logs with evaluation split ``split`` (for monitors)."""
        names = {f"{split}/{name}" for name in self.val_metrics.metrics}
        names |= {f"{split}/loss", "train/loss"}
        return names | {f"train/{name}" for name in type(self).TRAINING_LOGS}

    def setup(self, stage: str) -> None:
        """Tell the datamodule what batches to build; take its data state when fitting.

        When fitting, the model adopts the datamodule's state (:meth:`adopt_data`, built from
        the fit sessions only). For validate/test it adopts it only if it has none yet
        (:meth:`has_fit_data`); a trained model keeps its own, and a checkpoint (restored after
        this hook) always wins. Prediction uses nothing from the datamodule but the sessions.
        """
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "use_model_max_len"):
            # The model's length wins; an explicit, different --data.max_len is an error.
            datamodule.use_model_max_len(self.hparams.max_session_length)
        if datamodule is not None and hasattr(datamodule, "use_features"):
            datamodule.use_features(type(self).FEATURES)
        if datamodule is None or stage == "predict":
            return
        if datamodule.num_items != self.hparams.num_items:
            raise DataMismatchError(
                f"the datamodule has {datamodule.num_items} items but the model was built for "
                f"{self.hparams.num_items}; train a new model or use the matching dataset"
            )
        self._eval_prefix = getattr(datamodule, "evaluation_split", None) or "val"
        if stage == "fit" or not self.has_fit_data():
            self.adopt_data(datamodule)

    def get_extra_state(self) -> dict[str, Tensor]:
        """The vocabulary, stored in the checkpoint as plain tensors."""
        return self.vocabulary.to_state()

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        """Restore the vocabulary saved by :meth:`get_extra_state`."""
        self.vocabulary = Vocabulary.from_state(state)
        self._fit_data = True

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep the checkpoint's data record and compare it with the data being evaluated.

        Raises:
            DataMismatchError: validate/test/resume on data with another vocabulary.
        """
        self.data_identity = data_identity.recorded(checkpoint)
        trainer = self._trainer
        evaluated = (TrainerFn.FITTING, TrainerFn.VALIDATING, TrainerFn.TESTING)
        if trainer is not None and trainer.state.fn in evaluated:
            data_identity.compare(self.data_identity, trainer.datamodule, trainer.state.fn.value)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the model class and the data it is trained on (hash, items, vocabulary)."""
        trainer = self._trainer
        if trainer is not None and trainer.state.fn == TrainerFn.FITTING and trainer.datamodule:
            self.data_identity = data_identity.identity(self.vocabulary, trainer.datamodule)
        checkpoint[data_identity.IDENTITY_KEY] = self.data_identity or data_identity.identity(
            self.vocabulary
        )
        checkpoint[MODEL_CLASS_KEY] = class_path(type(self))

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> SessionRecommender:
        """Restore a model from a checkpoint; always weights-only (tensors and plain data).

        A checkpoint that asks to unpickle anything else is refused before any of it runs.
        :func:`dmi_gnn.models.load_model` picks the class from the checkpoint itself.

        Raises:
            UnsafeCheckpointError: the file holds other pickled objects.
            CorruptCheckpointError: the file is empty, truncated or not a checkpoint.
        """
        if weights_only is False:
            raise CheckpointError(f"{cls.__name__}.load_from_checkpoint always loads weights-only")
        position = checkpoint_path.tell() if hasattr(checkpoint_path, "tell") else None
        load_checkpoint(checkpoint_path, map_location="cpu")  # refuses unsafe or corrupt files
        if position is not None:
            checkpoint_path.seek(position)
        return super().load_from_checkpoint(
            checkpoint_path,
            map_location=map_location,
            hparams_file=hparams_file,
            strict=strict,
            weights_only=True,
            **kwargs,
        )

    # ------------------------------------------------------------------------------- training
    def _cut(self, batch: SessionBatch) -> SessionBatch:
        """``batch`` cut to ``max_session_length`` (the datamodule's batches already are)."""
        return truncate_batch(batch, self.hparams.max_session_length)

    def _sub_batches(self, batch: SessionBatch) -> list[SessionBatch]:
        """``batch`` cut to ``max_session_length``, in sub-batches of ``max_batch_cells``."""
        return split_batch(self._cut(batch), self.hparams.max_batch_cells)

    def training_step(self, batch: SessionBatch, batch_idx: int) -> Tensor:
        found = self.training_loss(self._cut(batch))
        parts = dict(found) if isinstance(found, Mapping) else {"loss": found}
        size = batch.batch_size
        total = parts.pop("loss")
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        for name, value in parts.items():
            self.log(f"train/{name}", value, batch_size=size)
        return total

    def on_train_start(self) -> None:
        # The sanity check must not leak into the first epoch's validation metrics.
        self.val_metrics.reset()
        self.val_loss.reset()
        if not self.uses_session_graph:
            return
        batch_size = getattr(getattr(self.trainer, "datamodule", None), "batch_size", None)
        cells = None if batch_size is None else batch_size * self.hparams.max_session_length**2
        if cells is not None and cells > self.hparams.max_batch_cells:
            log.warning(
                "a training batch may hold %d x %d x %d = %d session-graph cells, more than "
                "max_batch_cells=%d; training batches are not split: lower --data.batch_size "
                "or --model.max_session_length if memory runs out",
                batch_size,
                self.hparams.max_session_length,
                self.hparams.max_session_length,
                cells,
                self.hparams.max_batch_cells,
            )

    # ----------------------------------------------------------------------------- evaluation
    def _evaluate(self, batch: SessionBatch, metrics: RankingMetrics, loss: SampleMean) -> None:
        for part in self._sub_batches(batch):
            scores = self.scores(part)
            loss.update(F.cross_entropy(scores, part.targets - 1, reduction="none"))
            metrics.update(scores, part.targets)

    def _log_metrics(self, metrics: RankingMetrics, loss: SampleMean, prefix: str) -> None:
        # Both are sums and counts reduced across processes: exact under DDP.
        self.log(f"{prefix}/loss", loss.compute())
        loss.reset()
        values = metrics.compute()
        for name, value in values.items():
            name = f"{prefix}/{name.split('/', 1)[-1]}"
            self.log(name, value.float(), prog_bar=name.endswith("@20") and "NDCG" not in name)
        metrics.reset()

    def validation_step(self, batch: SessionBatch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, self.val_loss)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics(self.val_metrics, self.val_loss, self._eval_prefix)

    def test_step(self, batch: SessionBatch, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, self.test_loss)

    def on_test_epoch_end(self) -> None:
        self._log_metrics(self.test_metrics, self.test_loss, "test")

    # ----------------------------------------------------------------------------- prediction
    @torch.no_grad()
    def top_k_items(self, batch: SessionBatch, k: int | None = None) -> tuple[Tensor, Tensor]:
        """Model ids ``(B, K)`` (1..N) and scores ``(B, K)`` of the K best items per prefix.

        Prefixes are cut to ``max_session_length`` and the batch is run in sub-batches of at most
        ``max_batch_cells`` cells.
        """
        k = min(k or self.hparams.top_k, self.hparams.num_items)
        ids, values = [], []
        for part in self._sub_batches(batch):
            top = self.scores(part).topk(k, dim=1)
            ids.append(top.indices + 1)
            values.append(top.values)
        return torch.cat(ids), torch.cat(values)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> list[dict]:
        """Top-K raw item ids and scores, one dict per input session.

        ``batch`` is either a list of :class:`~datamodules.predict.PredictRecord` (the lines of a
        predict file; raw ids are encoded with this model's vocabulary) or a
        :class:`~datamodules.batch.SessionBatch` of model ids. Each dict holds ``items``,
        ``scores`` and ``unknown`` (raw ids skipped), or an ``error``; records keep their
        ``line``.
        """
        if isinstance(batch, SessionBatch):
            ids, scores = self.top_k_items(batch, self.predict_k)
            return [
                {"items": self.vocabulary.decode(row), "scores": row_scores}
                for row, row_scores in zip(ids.cpu(), scores.cpu().tolist(), strict=True)
            ]
        servable = [record for record in batch if record.error is None]
        found_all, cut = self._recommend(
            [record.raw_session for record in servable], self.predict_k
        )
        self._predict_cut[0] += cut
        self._predict_cut[1] += len(servable)
        recommendations = iter(found_all)
        results = []
        for record in batch:
            if record.error is not None:
                results.append({"line": record.line, "error": record.error})
                continue
            found = next(recommendations)
            result = {"line": record.line, "unknown": found.unknown}
            if found.error is None:
                result.update(items=found.items, scores=found.scores)
            else:
                result["error"] = found.error
            results.append(result)
        return results

    def on_predict_epoch_start(self) -> None:
        self._predict_cut = [0, 0]

    def on_predict_epoch_end(self) -> None:
        cut, total = self._predict_cut
        datamodule = getattr(self.trainer, "datamodule", None)
        source = getattr(datamodule, "predict_file", None) or "predict"
        if cut:
            log.warning(
                "%s: %d of %d sessions hold more than max_session_length=%d known items; "
                "their %d most recent were used",
                source,
                cut,
                total,
                self.hparams.max_session_length,
                self.hparams.max_session_length,
            )

    @torch.no_grad()
    def recommend(
        self, sessions: Sequence[Sequence[Any]], k: int | None = None
    ) -> list[Recommendation]:
        """Recommend the next items for sessions given as lists of raw item ids.

        Unknown raw ids are skipped (and reported); a session with no known item gets a
        :class:`Recommendation` whose ``error`` says so instead of items. A session with more
        than ``max_session_length`` known items is read from its most recent ones; memory is
        bounded by ``max_batch_cells`` per pass whatever the number and length of the sessions.

        Args:
            sessions: each a chronological list of raw item ids (oldest first).
            k: how many items to return (default: ``top_k``).
        """
        return self._recommend(sessions, k)[0]

    @torch.no_grad()
    def _recommend(
        self, sessions: Sequence[Sequence[Any]], k: int | None = None
    ) -> tuple[list[Recommendation], int]:
        """:meth:`recommend`, and how many sessions were cut to ``max_session_length``."""
        was_training = self.training
        self.eval()
        try:
            encoded, results = [], []
            for session in sessions:
                ids, unknown = self.vocabulary.encode(session)
                if not ids:
                    reason = (
                        "empty session" if len(session) == 0 else "no known item in the session"
                    )
                    results.append(Recommendation([], [], unknown, reason))
                else:
                    encoded.append(ids)
                    results.append(Recommendation([], [], unknown))
            max_len = self.hparams.max_session_length
            kept = [min(len(ids), max_len) for ids in encoded]
            rows = iter(self._top_k_in_parts(encoded, kept, k))
            for position, result in enumerate(results):
                if result.error is None:
                    row_ids, row_scores = next(rows)
                    items = self.vocabulary.decode(row_ids)
                    results[position] = Recommendation(items, row_scores, result.unknown)
            return results, sum(len(ids) > max_len for ids in encoded)
        finally:
            self.train(was_training)

    def collate(self, sessions: Sequence[Sequence[int]]) -> SessionBatch:
        """A batch of model-id sessions (time order) as this model reads it, on its device."""
        batch = collate_sessions(
            sessions,
            max_len=self.hparams.max_session_length,
            with_session_graph=self.uses_session_graph,
        )
        return batch.to_device(self.device)

    def _top_k_in_parts(
        self, encoded: list[list[int]], kept: list[int], k: int | None
    ) -> list[tuple[Tensor, list[float]]]:
        """Top-K of each encoded session, collated ``max_batch_cells`` at a time."""
        rows: list[tuple[Tensor, list[float]]] = []
        for start, end in sub_batch_bounds(kept, self.hparams.max_batch_cells):
            ids, scores = self.top_k_items(self.collate(encoded[start:end]), k)
            rows.extend(zip(ids.cpu(), scores.cpu().tolist(), strict=True))
        return rows

    # ------------------------------------------------------------------------------ optimiser
    def build_optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        """``optimizer``: coupled-L2 Adam (the published code) or AdamW, over ``params``."""
        hp = self.hparams
        if hp.optimizer == "adam":
            return torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
        return torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        hp = self.hparams
        optimizer = self.build_optimizer(params)
        if hp.lr_step == 0:
            return optimizer
        # Stepped once per epoch: the LR of epoch e is lr * gamma ** (e // lr_step), exactly as
        # the reference (which steps after training, before evaluating; evaluation ignores lr).
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, hp.lr_step, gamma=hp.lr_gamma)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
