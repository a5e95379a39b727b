"""``SessionDataModule``: benchmarks, synthetic data or a processed dataset, leak-free splits.

Data sources (``dataset``):

* a registry name (``tmall``, ``diginetica``, ``nowplaying``, ``retailrocket``; ``lastfm`` is
  registered but must be regenerated, see :mod:`datamodules.registry`). Each file ``F`` is looked
  for at ``<data_dir>/F`` (``data_dir`` may point straight at a folder holding the two files),
  then at ``<data_dir>/<name>/F``; a missing file is downloaded to ``<data_dir>/<name>/F`` when
  ``download`` is on. Every file is checked against its registered sha256.
* ``synthetic``: the built-in generator (:mod:`datamodules.synthetic`), ``synthetic_*`` options.
* the path of a processed dataset directory (:mod:`datamodules.processed`).

Protocols:

* ``validation`` (default): the last ``val_fraction`` (default 0.1) of the chronological train
  sessions, whole sessions, are the validation set; the model is fit on the rest, and the global
  graph is built from the fit sessions only. ``val_dataloader`` serves validation;
  ``val_fraction=0`` trains on every train session and has no validation set.
* ``paper``: the published code's protocol: fit on all train sessions and evaluate on the
  **test** set every epoch (``val_dataloader`` serves test). Only for comparing with the paper;
  :attr:`SessionDataModule.evaluation_split` says which split ``val_dataloader`` holds.

Maximum prefix length: the model's (``DMIGNN(max_session_length=...)``, saved in its
checkpoint) is the source of truth. ``max_len=None`` (the default) takes it from the model when
one calls :meth:`SessionDataModule.use_model_max_len` (``DMIGNN.setup`` does), else
:data:`~datamodules.batching.DEFAULT_MAX_LEN`; an explicit ``max_len`` must equal the model's.
Each split logs how many prefixes the cut shortens when its dataloader is made.

Batch features: a model declares what it reads beyond the prefixes (``FEATURES``, see
:mod:`datamodules.batch`) and hands them over with :meth:`SessionDataModule.use_features` (the
CLI before anything is loaded, ``SessionRecommender.setup`` in any case). Batches carry the
session graph only for ``"session_graph"``; the global graph is built (and cached) only for
``"global_graph"``, when first asked for. Until a model says, both are built, as before.
``"relation_graphs"`` (MGIR) asks nothing of the datamodule but :attr:`fit_sessions`: the model
builds its graphs from them.

Prepared arrays are cached in ``<cache_dir>/<name>-<key>.npz``, keyed by the inputs' sha256 and
the options that change the content (see :mod:`datamodules.cache`); without ``cache_dir`` a
benchmark caches in ``<data_dir>/.cache``, a processed dataset in ``<its folder>/.cache``, and
the synthetic dataset is kept in memory only.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Literal

from lightning.pytorch import LightningDataModule
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader

from datamodules.batch import GLOBAL_GRAPH, SESSION_GRAPH, check_features
from datamodules.batching import DEFAULT_MAX_LEN
from datamodules.cache import cache_key, cache_path, default_cache_dir, load_prepared, save_prepared
from datamodules.errors import DataError
from datamodules.graph import GlobalGraph
from datamodules.loading import SampleDataset, keep_batch
from datamodules.predict import (
    JSON_SUFFIXES,
    TEXT_SUFFIXES,
    PredictRecord,
    PredictRecords,
    collate_records,
    read_predict_file,
)
from datamodules.prepared import PreparedData, PrepareOptions, prepare
from datamodules.processed import Sessions
from datamodules.sampling import evaluation_sampler, training_sampler
from datamodules.sources import describe_dataset, fingerprint, load_sessions
from datamodules.synthetic import SyntheticConfig
from datamodules.vocab import Vocabulary

logger = logging.getLogger(__name__)

Protocol = Literal["validation", "paper"]
DEFAULT_VAL_FRACTION = 0.1


def _require_int(name: str, value: object, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


class SessionDataModule(LightningDataModule):
    """Session-based recommendation data for DMI-GNN (see the module docstring).

    Args:
        dataset: a registry name (tmall, diginetica, nowplaying, retailrocket, lastfm),
            "synthetic", or the path of a processed dataset directory.
        data_dir: where benchmark files are found or downloaded to (``<data_dir>/<file>``,
            then ``<data_dir>/<dataset>/<file>``).
        protocol: "validation" (validation carved from the end of train) or "paper" (evaluate
            on test every epoch, as the published code does).
        val_fraction: share of the last train sessions held out for validation, in [0, 1);
            default 0.1 under "validation"; must be unset or 0 under "paper".
        batch_size: training batch size.
        eval_batch_size: validation/test/predict batch size (default: ``batch_size``).
        max_len: keep only the most recent ``max_len`` clicks of longer prefixes. None: the
            model's maximum length (see :meth:`use_model_max_len`), else ``DEFAULT_MAX_LEN``
            (200); an explicit value must equal the model's.
        graph_window: largest distance of a co-occurring pair in the global graph.
        graph_top_k: neighbours kept per item in the global graph.
        num_workers: DataLoader worker processes.
        download: fetch missing benchmark files from their pinned URLs.
        cache_dir: folder of the prepared-array cache (default: ``<data_dir>/.cache`` for a
            benchmark, ``<dataset>/.cache`` for a processed dataset, none for synthetic data).
        predict_file: sessions to recommend for (.jsonl/.ndjson/.json or .csv/.txt).
        seed: seed of the training-order shuffle; default: the run's global seed
            (``seed_everything``), else 0.
        synthetic_num_items: synthetic items.
        synthetic_num_interests: synthetic latent interests.
        synthetic_num_train_sessions: synthetic train sessions.
        synthetic_num_test_sessions: synthetic test sessions.
        synthetic_max_session_length: longest synthetic session.
        synthetic_zipf_exponent: item popularity skew.
        synthetic_stay_probability: chance a click keeps the previous click's interest.
        synthetic_recall_probability: chance a click returns to the interest before that.
        synthetic_chain_probability: chance an item follows its interest's last item's chain.
        synthetic_seed: generator seed.
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        data_dir: str = "data",
        protocol: Protocol = "validation",
        val_fraction: float | None = None,
        batch_size: int = 100,
        eval_batch_size: int | None = None,
        max_len: int | None = None,
        graph_window: int = 3,
        graph_top_k: int = 12,
        num_workers: int = 0,
        download: bool = True,
        cache_dir: str | None = None,
        predict_file: str | None = None,
        seed: int | None = None,
        synthetic_num_items: int = 1000,
        synthetic_num_interests: int = 25,
        synthetic_num_train_sessions: int = 6000,
        synthetic_num_test_sessions: int = 1000,
        synthetic_max_session_length: int = 40,
        synthetic_zipf_exponent: float = 1.0,
        synthetic_stay_probability: float = 0.6,
        synthetic_recall_probability: float = 0.2,
        synthetic_chain_probability: float = 0.6,
        synthetic_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if protocol not in ("validation", "paper"):
            raise ValueError(f"protocol must be 'validation' or 'paper', got {protocol!r}")
        if protocol == "paper":
            if val_fraction not in (None, 0, 0.0):
                raise ValueError(
                    f"protocol='paper' evaluates on the test set and trains on all train "
                    f"sessions: val_fraction must be unset or 0, got {val_fraction!r}"
                )
            val_fraction = 0.0
        elif val_fraction is None:
            val_fraction = DEFAULT_VAL_FRACTION
        if (
            isinstance(val_fraction, bool)
            or not isinstance(val_fraction, (int, float))
            or not (0 <= val_fraction < 1)
            or math.isnan(val_fraction)
        ):
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
        _require_int("batch_size", batch_size, 1)
        _require_int("eval_batch_size", eval_batch_size, 1, optional=True)
        _require_int("max_len", max_len, 1, optional=True)
        _require_int("graph_window", graph_window, 1)
        _require_int("graph_top_k", graph_top_k, 1)
        _require_int("num_workers", num_workers, 0)
        _require_int("seed", seed, 0, optional=True)
        if predict_file is not None:
            suffix = Path(predict_file).suffix.lower()
            if suffix not in JSON_SUFFIXES + TEXT_SUFFIXES:
                raise ValueError(
                    f"predict_file {predict_file!r}: unsupported extension {suffix!r}; use one "
                    f"of {', '.join(JSON_SUFFIXES + TEXT_SUFFIXES)}"
                )
        self.synthetic_config = SyntheticConfig(
            num_items=synthetic_num_items,
            num_interests=synthetic_num_interests,
            num_train_sessions=synthetic_num_train_sessions,
            num_test_sessions=synthetic_num_test_sessions,
            max_session_length=synthetic_max_session_length,
            zipf_exponent=synthetic_zipf_exponent,
            stay_probability=synthetic_stay_probability,
            recall_probability=synthetic_recall_probability,
            chain_probability=synthetic_chain_probability,
            seed=synthetic_seed,
        )
        self.dataset = dataset
        self.data_dir = data_dir
        self.protocol: Protocol = protocol
        self.val_fraction = float(val_fraction)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.max_len = max_len
        #: The attached model's maximum prefix length (set by :meth:`use_model_max_len`).
        self.model_max_len: int | None = None
        self._reported_cuts: set[tuple[str, int]] = set()
        #: The batch features of the attached model (:meth:`use_features`); None: all.
        self.features: frozenset[str] | None = None
        self.graph_window = graph_window
        self.graph_top_k = graph_top_k
        self.num_workers = num_workers
        self.download = download
        self.predict_file = predict_file
        self.seed = seed
        self.info = describe_dataset(dataset, self.synthetic_config)
        self.cache_dir = default_cache_dir(cache_dir, data_dir, self.info.kind, self.info.path)
        self._data: PreparedData | None = None
        self._key: str | None = None
        self.train_dataset: SampleDataset | None = None
        self.val_dataset: SampleDataset | None = None
        self.test_dataset: SampleDataset | None = None
        self.predict_dataset: PredictRecords | None = None
        self.predict_records: list[PredictRecord] = []

    # ----------------------------------------------------------------- preparation and loading

    @property
    def options(self) -> PrepareOptions:
        """The options that change the prepared content."""
        return PrepareOptions(
            val_fraction=self.val_fraction,
            min_prefix_length=self.info.min_prefix_length,
            graph_window=self.graph_window,
            graph_top_k=self.graph_top_k,
        )

    def _cache_file(self) -> tuple[Path | None, str]:
        inputs = fingerprint(self.info, self.data_dir, self.download, self.synthetic_config)
        key = cache_key(inputs, self.options)
        if self.cache_dir is None:  # kept in memory (synthetic data without cache_dir)
            return None, key
        return cache_path(self.cache_dir, self.info.name, key), key

    def _load_or_build(self) -> tuple[PreparedData, str]:
        path, key = self._cache_file()
        data = load_prepared(path) if path is not None else None
        if data is None:
            raw = load_sessions(self.info, self.data_dir, self.download, self.synthetic_config)
            data = prepare(raw, self.info.num_items, self.options, self.wants(GLOBAL_GRAPH))
            if path is None:
                return data, key
            self._save(data, path)
        return data, key

    def _save(self, data: PreparedData, path: Path) -> None:
        try:
            save_prepared(data, path)
        except OSError as error:
            logger.warning(
                "could not write the cache file %s (%s); continuing without a cache "
                "(set cache_dir to a writable folder)",
                path,
                error,
            )
        else:
            logger.info("cached prepared %s data in %s", self.info.name, path)

    def prepare_data(self) -> None:
        """Download (if allowed) and verify the files, and fill the cache. Assigns no state.

        Does nothing when the attached trainer is predicting: prediction reads only
        ``predict_file`` (see :meth:`setup`), so it needs neither the dataset nor the network.
        """
        if self.trainer is not None and self.trainer.state.fn == TrainerFn.PREDICTING:
            return
        path, _ = self._cache_file()
        if path is not None and not path.is_file():
            self._load_or_build()

    def _ensure_loaded(self) -> PreparedData:
        if self._data is None:
            self._data, self._key = self._load_or_build()
        return self._data

    def setup(self, stage: str | None = None) -> None:
        """Load the prepared arrays (from the cache) and build the split datasets.

        ``setup("predict")`` reads only ``predict_file``: the model encodes the raw ids with the
        vocabulary of its checkpoint, so predicting needs no training data.
        """
        if stage == "predict":
            self._setup_predict()
            return
        data = self._ensure_loaded()
        if self.train_dataset is None:
            graph = self.wants(SESSION_GRAPH)
            self.train_dataset = SampleDataset(data.train, self.effective_max_len, graph)
            self.val_dataset = SampleDataset(data.val, self.effective_max_len, graph)
            self.test_dataset = SampleDataset(data.test, self.effective_max_len, graph)
        if stage is None and self.predict_file is not None:
            self._setup_predict()

    def _setup_predict(self) -> None:
        if self.predict_file is None:
            raise ValueError("set predict_file to predict (a .jsonl or .csv file of sessions)")
        self.predict_records = read_predict_file(self.predict_file)
        self.predict_dataset = PredictRecords(self.predict_records)

    # -------------------------------------------------------------------------- exposed state

    @property
    def effective_max_len(self) -> int:
        """The cut applied to every prefix: the model's, else ``max_len``, else the default."""
        if self.model_max_len is not None:
            return self.model_max_len
        return self.max_len if self.max_len is not None else DEFAULT_MAX_LEN

    def use_model_max_len(self, model_max_len: int) -> None:
        """Cut prefixes at the model's maximum length (the model is the source of truth).

        Raises:
            DataError: ``max_len`` was set explicitly to another value (a user error: the CLI
                prints it as one line, exit 2).
        """
        _require_int("the model's max_session_length", model_max_len, 1)
        if self.max_len is not None and self.max_len != model_max_len:
            raise DataError(
                f"data max_len={self.max_len} disagrees with the model's "
                f"max_session_length={model_max_len}: the model's maximum session length is "
                "the one that counts (it is saved in the checkpoint and used by predict and "
                "recommend). Leave "
                "--data.max_len unset, or train a new model with "
                f"--model.max_session_length {self.max_len}"
            )
        self.model_max_len = model_max_len

    def use_features(self, features: frozenset[str] | set[str] | tuple[str, ...]) -> None:
        """Serve what a model with these ``FEATURES`` reads, and nothing more.

        Raises:
            ValueError: an unknown feature.
        """
        self.features = check_features(features, "the model")

    def wants(self, feature: str) -> bool:
        """Whether batches (or the model) need ``feature`` (True until a model says)."""
        return self.features is None or feature in self.features

    def _report_cut(self, name: str, dataset: SampleDataset, max_len: int) -> None:
        """Log, once per split and length, how many prefixes the cut at ``max_len`` shortens."""
        if (name, max_len) in self._reported_cuts or len(dataset) == 0:
            return
        self._reported_cuts.add((name, max_len))
        prefixes, sessions = dataset.count_longer(max_len)
        if prefixes:
            logger.warning(
                "%s: %d of %d prefixes (in %d session(s)) are longer than max_len=%d; they "
                "keep their %d most recent clicks",
                name,
                prefixes,
                len(dataset),
                sessions,
                max_len,
                max_len,
            )
        else:
            logger.info("%s: no prefix is longer than max_len=%d", name, max_len)

    @property
    def shuffle_seed(self) -> int:
        """``seed``, or the global seed set by ``seed_everything`` (``PL_GLOBAL_SEED``), or 0."""
        if self.seed is not None:
            return self.seed
        return int(os.environ.get("PL_GLOBAL_SEED", "0"))

    @property
    def num_items(self) -> int:
        """``N``; known without loading (registry, synthetic config or ``dataset.json``)."""
        return self._data.num_items if self._data is not None else self.info.num_items

    @property
    def min_prefix_length(self) -> int:
        """The dataset's augmentation rule (1: every prefix, 2: prefixes of length >= 2)."""
        return self.info.min_prefix_length

    @property
    def global_graph(self) -> GlobalGraph:
        """The global graph of the fit sessions (loads the data, builds and caches the graph if
        needed)."""
        data = self._ensure_loaded()
        if data.graph is None:
            data.with_graph(self.options)
            path, _ = self._cache_file()
            if path is not None:
                self._save(data, path)
        return data.graph

    @property
    def fit_sessions(self) -> Sessions:
        """The sessions the model is fit on, in chronological order (no validation or test
        session among them): what a non-parametric index is built from."""
        return self._ensure_loaded().fit_sessions

    @property
    def vocabulary(self) -> Vocabulary:
        """Raw ids <-> ``1..N`` (loads the data if needed)."""
        return self._ensure_loaded().vocabulary

    @property
    def dataset_hash(self) -> str:
        """12 hex digits identifying the data content and every option that shapes batches."""
        self._ensure_loaded()
        return hashlib.sha256(f"{self._key}|max_len={self.max_len}".encode()).hexdigest()[:12]

    @property
    def evaluation_split(self) -> Literal["val", "test"] | None:
        """What ``val_dataloader`` holds: "val", "test" (paper protocol) or None (no validation)."""
        if self.protocol == "paper":
            return "test"
        return "val" if self.val_fraction > 0 else None

    @property
    def counts(self) -> dict[str, int]:
        """Sessions and samples per split, and sessions too short to give a sample."""
        return dict(self._ensure_loaded().counts)

    @property
    def train_sessions_count(self) -> int:
        """Sessions the model is fit on (and the global graph is built from)."""
        return self.counts["fit_sessions"]

    @property
    def val_sessions_count(self) -> int:
        """Validation sessions (0 without validation)."""
        return self.counts["val_sessions"]

    @property
    def test_sessions_count(self) -> int | None:
        """Test sessions; None when the test file holds prefix pairs rather than sessions."""
        count = self.counts["test_sessions"]
        return None if count < 0 else count

    # ---------------------------------------------------------------------------- dataloaders

    def _loader(
        self, dataset: SampleDataset | None, batch_size: int, shuffle: bool, name: str
    ) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() before asking for a dataloader")
        dataset.max_len = self.effective_max_len
        dataset.with_session_graph = self.wants(SESSION_GRAPH)
        self._report_cut(name, dataset, dataset.max_len)
        if shuffle:
            sampler = training_sampler(dataset, self.shuffle_seed)
        else:
            sampler = evaluation_sampler(dataset)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            collate_fn=keep_batch,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        """Training prefixes, shuffled by ``(seed, epoch)`` (reproducible after a resume)."""
        return self._loader(self.train_dataset, self.batch_size, shuffle=True, name="train")

    def val_dataloader(self) -> DataLoader:
        """Validation prefixes, or the test set under the paper protocol (empty if none)."""
        if self.protocol == "paper":
            return self._loader(self.test_dataset, self.eval_batch_size, False, name="test")
        return self._loader(self.val_dataset, self.eval_batch_size, False, name="val")

    def test_dataloader(self) -> DataLoader:
        """Test samples, in file order."""
        return self._loader(self.test_dataset, self.eval_batch_size, False, name="test")

    def predict_dataloader(self) -> DataLoader:
        """Every line of ``predict_file`` as a :class:`PredictRecord`, in file order."""
        if self.predict_dataset is None:
            self.setup("predict")
        return DataLoader(
            self.predict_dataset,
            batch_size=self.eval_batch_size,
            shuffle=False,
            collate_fn=collate_records,
        )
