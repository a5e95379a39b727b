"""``DMIGNN``: the LightningModule around :class:`dmi_gnn.nn.DMIGNNNet`.

The module owns what the pure network does not: the loss (cross-entropy plus the interest
regulariser, eqs. 9-10), the optimiser and schedule, the ranking metrics, the vocabulary that
turns raw item ids into model ids and back, and the inference helpers (:meth:`DMIGNN.recommend`,
:meth:`DMIGNN.inspect_interests`). Everything needed to predict (parameters, the global
neighbour table, the vocabulary) lives in the checkpoint, so
``DMIGNN.load_from_checkpoint(path)`` alone is enough to serve recommendations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor

from datamodules.batch import SessionBatch
from datamodules.batching import (
    DEFAULT_MAX_BATCH_CELLS,
    DEFAULT_MAX_LEN,
    collate_sessions,
    split_batch,
    sub_batch_bounds,
    truncate_batch,
)
from datamodules.graph import GlobalGraph, fill_neighbors_with_replacement
from datamodules.vocab import Vocabulary
from dmi_gnn import data_identity
from dmi_gnn.checkpoints import load_checkpoint
from dmi_gnn.errors import CheckpointError, DataMismatchError
from dmi_gnn.hparams import validate_hyperparameters
from dmi_gnn.losses import interest_regularizer
from dmi_gnn.metrics import RankingMetrics, SampleMean
from dmi_gnn.nn import DMIGNNNet
from dmi_gnn.semantics import resolve_semantics

log = logging.getLogger(__name__)

#: State-dict prefixes of the optional item-representation branches of :class:`DMIGNNNet`.
_BRANCH_PREFIXES = ("net.local_aggregator.", "net.global_aggregators.")


class Recommendation(NamedTuple):
    """Top-K recommendation for one session of raw item ids.

    Attributes:
        items: raw ids of the recommended items, best first (empty when ``error`` is set).
        scores: their scores (eq. 6), same order.
        unknown: raw ids of the session that the vocabulary does not know (skipped).
        error: why no recommendation could be made, or None.
    """

    items: list
    scores: list[float]
    unknown: list
    error: str | None = None


class DMIGNN(L.LightningModule):
    """DMI-GNN (Lv, Liu and Xu, AAAI 2025) as a LightningModule.

    Loss per batch: ``CE(max_u scores, target) + beta * R`` where ``R`` is the DMI regulariser
    (eq. 10), the plain similarity regulariser (eq. 9) or nothing. Metrics: HR@K, MRR@K,
    NDCG@K and Cov@K over the full catalogue, logged as ``val/HR@20`` etc. (``test/...`` when
    the evaluation set is the test set, as in the paper protocol).

    ``semantics`` picks the preset of every option where the published code and the paper's
    equations differ (see :mod:`dmi_gnn.semantics`); each such option can also be set on its
    own, and ``None`` means "from the preset".

    Args:
        num_items: number of items N (ids 1..N). Linked from the datamodule by the CLI.
        semantics: ``"reference"`` (as the published code computes) or ``"paper"``.
        embedding_dim: size d of item, position and interest vectors.
        num_interests: number of interest heads U.
        beta: weight of the interest regulariser.
        eta: the length threshold of the DMI regulariser (eq. 10).
        regularizer: ``"dmi"`` (eq. 10), ``"similarity"`` (eq. 9) or ``"none"``.
        regularizer_reduction: ``"sum"`` or ``"mean"`` of the regulariser over the batch.
        scoring: ``"max"`` over interests (eq. 6) or ``"sum"`` (Table 3 ablation).
        positional: ``"multi"`` positional patterns, or ``"single"`` (Table 3 ablation).
        scoring_chunk_size: candidate items per scoring block (``"auto"``: 8,192 on the CPU,
            one block on a GPU; None: one block). Bounds the ``U x B x N`` transient on huge
            catalogues; the scores do not change.
        hop: number of hops of the global aggregator.
        num_neighbors: neighbours per item in the global graph table (its top-k).
        dropout_local: dropout on the local-branch output.
        dropout_global: dropout on the global-branch output.
        dropout_gcn: dropout inside the global aggregator.
        leaky_relu_slope: negative slope of the attention LeakyReLUs.
        global_activation: activation of the global aggregator output.
        max_positions: rows of the reversed position table (longer prefixes reuse the last).
        normalize_embeddings: L2-normalise local-branch and candidate embeddings.
        attention: ``"raw"`` (un-normalised) or ``"softmax"`` interest attention.
        readout_bias: use the bias b3 of eq. 3.
        full_dropout: what a dropout rate of exactly 1 does to a branch.
        neighbor_padding: ``"resampled"`` (fill short neighbour lists with replacement) or
            ``"masked"`` (mask empty slots).
        use_global: keep the global branch at all.
        optimizer: ``"adam"`` (coupled L2, as the reference) or ``"adamw"`` (decoupled).
        lr: learning rate.
        weight_decay: L2 (adam) or decoupled (adamw) weight decay.
        lr_step: epochs between learning-rate decays (StepLR); 0 disables the schedule.
        lr_gamma: learning-rate decay factor.
        top_k: number of items returned by ``predict_step`` and ``recommend``.
        max_session_length: the longest prefix the model reads: training, evaluation,
            ``predict_step``, ``recommend`` and ``inspect_interests`` keep its most recent clicks
            of longer sessions. Saved in the checkpoint; the datamodule follows it (an
            explicit ``--data.max_len`` must agree). Default 200, the position table's rows.
        max_batch_cells: largest ``B * L * L`` (session-graph cells) run in one pass at
            evaluation, prediction and ``recommend``; larger batches are split into
            sub-batches with the same results. The local attention holds several ``B x L x L``
            float tensors (about 62 bytes per cell in an evaluation pass, measured); with the
            default 2**23 one evaluation pass stays near 1 GB (README, "Memory"). Training
            batches are not split (a warning says when
            ``batch_size * max_session_length**2`` exceeds it).
        metric_ks: the K values of the ranking metrics.
        neighbor_seed: seed of the with-replacement neighbour filling (``resampled``).
    """

    def __init__(
        self,
        num_items: int = 0,
        semantics: Literal["reference", "paper"] = "reference",
        embedding_dim: int = 100,
        num_interests: int = 3,
        beta: float = 0.01,
        eta: float = 8.0,
        regularizer: Literal["none", "similarity", "dmi"] = "dmi",
        regularizer_reduction: Literal["sum", "mean"] | None = None,
        scoring: Literal["max", "sum"] = "max",
        positional: Literal["multi", "single"] = "multi",
        scoring_chunk_size: int | Literal["auto"] | None = "auto",
        hop: int = 1,
        num_neighbors: int = 12,
        dropout_local: float = 0.0,
        dropout_global: float = 0.5,
        dropout_gcn: float = 0.0,
        leaky_relu_slope: float = 0.2,
        global_activation: Literal["relu", "tanh"] = "relu",
        max_positions: int = 200,
        normalize_embeddings: bool | None = None,
        attention: Literal["raw", "softmax"] | None = None,
        readout_bias: bool | None = None,
        full_dropout: Literal["zero", "drop_branch"] | None = None,
        neighbor_padding: Literal["resampled", "masked"] | None = None,
        use_global: bool = True,
        optimizer: Literal["adam", "adamw"] = "adam",
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        lr_step: int = 3,
        lr_gamma: float = 0.1,
        top_k: int = 20,
        metric_ks: Sequence[int] = (10, 20),
        neighbor_seed: int = 2024,
        max_session_length: int = DEFAULT_MAX_LEN,
        max_batch_cells: int = DEFAULT_MAX_BATCH_CELLS,
    ) -> None:
        super().__init__()
        validate_hyperparameters(locals())
        self.save_hyperparameters()
        options = resolve_semantics(
            semantics,
            normalize_embeddings=normalize_embeddings,
            attention=attention,
            readout_bias=readout_bias,
            regularizer_reduction=regularizer_reduction,
            full_dropout=full_dropout,
            neighbor_padding=neighbor_padding,
        )
        self.regularizer_reduction: str = options.pop("regularizer_reduction")
        self.net = DMIGNNNet(
            num_items=num_items,
            embedding_dim=embedding_dim,
            num_interests=num_interests,
            hop=hop,
            num_neighbors=num_neighbors,
            dropout_local=dropout_local,
            dropout_global=dropout_global,
            dropout_gcn=dropout_gcn,
            leaky_relu_slope=leaky_relu_slope,
            global_activation=global_activation,
            max_positions=max_positions,
            positional=positional,
            scoring=scoring,
            scoring_chunk_size=scoring_chunk_size,
            use_global=use_global,
            **options,
        )
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

    # ----------------------------------------------------------------------------- data hookup
    def setup(self, stage: str) -> None:
        """Take the global graph and the vocabulary from the datamodule when training.

        When fitting, the model adopts the datamodule's graph (built from the fit sessions only)
        and vocabulary. For validate/test it adopts them only if it has no graph yet; a trained
        model keeps its own, and a checkpoint (restored after this hook) always wins. Prediction
        uses nothing from the datamodule but the sessions.
        """
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "use_model_max_len"):
            # The model's length wins; an explicit, different --data.max_len is an error.
            datamodule.use_model_max_len(self.hparams.max_session_length)
        if datamodule is None or stage == "predict":
            return
        if datamodule.num_items != self.hparams.num_items:
            raise DataMismatchError(
                f"the datamodule has {datamodule.num_items} items but the model was built for "
                f"{self.hparams.num_items}; train a new model or use the matching dataset"
            )
        self._eval_prefix = getattr(datamodule, "evaluation_split", None) or "val"
        if stage == "fit" or not bool(self.net.global_neighbors.any()):
            self.set_global_graph(datamodule.global_graph)
            self.vocabulary = datamodule.vocabulary

    def set_global_graph(self, graph: GlobalGraph) -> None:
        """Install the global item graph (filling short neighbour lists if ``resampled``)."""
        if graph.neighbors.shape[1] != self.hparams.num_neighbors:
            raise ValueError(
                f"the global graph keeps {graph.neighbors.shape[1]} neighbours per item but the "
                f"model expects num_neighbors={self.hparams.num_neighbors}"
            )
        if self.net.neighbor_padding == "resampled":
            graph = fill_neighbors_with_replacement(graph, seed=self.hparams.neighbor_seed)
        self.net.set_global_graph(
            torch.as_tensor(graph.neighbors, dtype=torch.long),
            torch.as_tensor(graph.weights, dtype=torch.float32),
        )

    def get_extra_state(self) -> dict[str, Tensor]:
        """The vocabulary, stored in the checkpoint as plain tensors."""
        return self.vocabulary.to_state()

    def set_extra_state(self, state: dict[str, Tensor]) -> None:
        """Restore the vocabulary saved by :meth:`get_extra_state`."""
        self.vocabulary = Vocabulary.from_state(state)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Accept checkpoints that still hold the weights of a branch this network does not build.

        Development versions of 0.1.0 built a branch even when ``drop_branch`` dropout
        switched it off, so their checkpoints carry its (unused) weights. Those keys are
        dropped here, and only those: any other mismatch still fails the strict load.
        """
        state = checkpoint.get("state_dict", {})
        expected = self.state_dict().keys()
        unused = [key for key in state if key.startswith(_BRANCH_PREFIXES) and key not in expected]
        for key in unused:
            del state[key]
        if unused:
            log.info(
                "Checkpoint holds %d weights of a branch this model does not build (%s); ignored.",
                len(unused),
                ", ".join(sorted({key.split(".")[1] for key in unused})),
            )
        self.data_identity = data_identity.recorded(checkpoint)
        trainer = self._trainer
        evaluated = (TrainerFn.FITTING, TrainerFn.VALIDATING, TrainerFn.TESTING)
        if trainer is not None and trainer.state.fn in evaluated:
            data_identity.compare(self.data_identity, trainer.datamodule, trainer.state.fn.value)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the data the model is trained on (dataset hash, items, vocabulary digest)."""
        trainer = self._trainer
        if trainer is not None and trainer.state.fn == TrainerFn.FITTING and trainer.datamodule:
            self.data_identity = data_identity.identity(self.vocabulary, trainer.datamodule)
        checkpoint[data_identity.IDENTITY_KEY] = self.data_identity or data_identity.identity(
            self.vocabulary
        )

    @classmethod
    def load_from_checkpoint(  # type: ignore[override]
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> DMIGNN:
        """Restore a model from a checkpoint; always weights-only (tensors and plain data).

        A checkpoint that asks to unpickle anything else is refused before any of it runs.

        Raises:
            UnsafeCheckpointError: the file holds other pickled objects.
            CorruptCheckpointError: the file is empty, truncated or not a checkpoint.
        """
        if weights_only is False:
            raise CheckpointError("DMIGNN.load_from_checkpoint always loads weights-only")
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

    def forward(self, batch: SessionBatch) -> Tensor:
        """Scores ``(B, N)`` of items ``1..N`` for a batch (column ``j`` is item ``j + 1``)."""
        return self.net(batch).scores

    # ------------------------------------------------------------------------------- training
    def loss(self, batch: SessionBatch) -> tuple[Tensor, Tensor, Tensor]:
        """Cross-entropy and weighted interest regulariser of one batch.

        Returns:
            ``(total, cross_entropy, regularizer_term)``, scalars; the last already
            multiplied by ``beta``.
        """
        output = self.net(batch)
        cross_entropy = F.cross_entropy(output.scores, batch.targets - 1)
        regularizer = self.hparams.beta * interest_regularizer(
            self.hparams.regularizer,
            output.attention,
            batch.mask,
            batch.lengths,
            eta=self.hparams.eta,
            reduction=self.regularizer_reduction,
        )
        return cross_entropy + regularizer, cross_entropy, regularizer

    def _cut(self, batch: SessionBatch) -> SessionBatch:
        """``batch`` cut to ``max_session_length`` (the datamodule's batches already are)."""
        return truncate_batch(batch, self.hparams.max_session_length)

    def _sub_batches(self, batch: SessionBatch) -> list[SessionBatch]:
        """``batch`` cut to ``max_session_length``, in sub-batches of ``max_batch_cells``."""
        return split_batch(self._cut(batch), self.hparams.max_batch_cells)

    def training_step(self, batch: SessionBatch, batch_idx: int) -> Tensor:
        total, cross_entropy, regularizer = self.loss(self._cut(batch))
        size = batch.batch_size
        self.log("train/loss", total, prog_bar=True, batch_size=size)
        self.log("train/ce", cross_entropy, batch_size=size)
        self.log("train/regularizer", regularizer, batch_size=size)
        return total

    def on_train_start(self) -> None:
        # The sanity check must not leak into the first epoch's validation metrics.
        self.val_metrics.reset()
        self.val_loss.reset()
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
            scores = self.net(part).scores
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
        ``max_batch_cells`` graph cells.
        """
        k = min(k or self.hparams.top_k, self.hparams.num_items)
        ids, values = [], []
        for part in self._sub_batches(batch):
            top = self.net(part).scores.topk(k, dim=1)
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

    def _top_k_in_parts(
        self, encoded: list[list[int]], kept: list[int], k: int | None
    ) -> list[tuple[Tensor, list[float]]]:
        """Top-K of each encoded session, collated ``max_batch_cells`` at a time."""
        rows: list[tuple[Tensor, list[float]]] = []
        for start, end in sub_batch_bounds(kept, self.hparams.max_batch_cells):
            batch = collate_sessions(encoded[start:end], max_len=self.hparams.max_session_length)
            batch = SessionBatch(*(t.to(self.device) for t in batch))
            ids, scores = self.top_k_items(batch, k)
            rows.extend(zip(ids.cpu(), scores.cpu().tolist(), strict=True))
        return rows

    @torch.no_grad()
    def inspect_interests(self, sessions: Sequence[Sequence[Any]]) -> list[dict[str, Tensor]]:
        """Per-position attention of every interest and the interests' pairwise similarity.

        The matrices behind the paper's Figure 3. Positions are reversed (0 = most recent).

        Returns:
            One dict per session: ``attention`` ``(l, U)`` over its ``l`` known items (at most
            the ``max_session_length`` most recent) and ``similarity`` ``(U, U)`` (cosine of the
            interest vectors).
        """
        was_training = self.training
        self.eval()
        try:
            encoded = []
            for index, session in enumerate(sessions):
                ids, _ = self.vocabulary.encode(session)
                if not ids:
                    raise ValueError(f"session {index} has no item known to the model")
                encoded.append(ids)
            kept = [min(len(ids), self.hparams.max_session_length) for ids in encoded]
            found = []
            for start, end in sub_batch_bounds(kept, self.hparams.max_batch_cells):
                batch = collate_sessions(
                    encoded[start:end], max_len=self.hparams.max_session_length
                )
                batch = SessionBatch(*(t.to(self.device) for t in batch))
                attention, similarity = self.net.inspect(batch)
                found.extend(
                    {"attention": attention[i, :length].cpu(), "similarity": similarity[i].cpu()}
                    for i, length in enumerate(batch.lengths.tolist())
                )
            return found
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        hp = self.hparams
        if hp.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=hp.lr, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.AdamW(params, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.lr_step == 0:
            return optimizer
        # Stepped once per epoch: the LR of epoch e is lr * gamma ** (e // lr_step), exactly as
        # the reference (which steps after training, before evaluating; evaluation ignores lr).
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, hp.lr_step, gamma=hp.lr_gamma)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
