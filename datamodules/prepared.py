"""From raw sessions to the arrays a run needs: split samples, global graph, vocabulary.

This is where the split protocol lives:

* validation sessions are the **last** ``val_fraction`` of the chronological train sessions,
  whole sessions (:func:`datamodules.samples.split_last_sessions`); the rest are the fit
  sessions;
* train samples are the prefixes of the fit sessions, validation samples the prefixes of the
  validation sessions, both by the dataset's augmentation rule;
* test samples are the dataset's test samples, untouched;
* the global graph is built from the fit sessions only;
* a split the rules leave without samples is an error (:func:`check_splits`): no training
  sample, a validation split (``val_fraction > 0``, which always holds out at least one
  session) whose sessions give no sample, or no test sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from datamodules.errors import DataError
from datamodules.graph import GlobalGraph, build_global_graph
from datamodules.processed import Sessions
from datamodules.samples import Samples, prefix_samples, split_last_sessions
from datamodules.sources import RawSessions
from datamodules.vocab import Vocabulary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareOptions:
    """The options that change the prepared content (they are part of the cache key)."""

    val_fraction: float
    min_prefix_length: int
    graph_window: int
    graph_top_k: int


@dataclass
class PreparedData:
    """Everything :class:`~datamodules.datamodule.SessionDataModule` serves.

    Attributes:
        num_items: ``N``.
        train, val, test: the samples of each split (``val`` is empty without validation).
        graph: the global graph of the fit sessions; None until a model asks for it
            (:meth:`with_graph`).
        vocabulary: raw ids <-> ``1..N``.
        counts: sessions and samples per split (``test_sessions`` is -1 when the test file
            holds pairs rather than sessions).
        fit_offsets: session boundaries of the fit sessions in ``train.flat`` (the fit
            sessions' clicks, in chronological session order), ``(fit_sessions + 1,)``.
    """

    num_items: int
    train: Samples
    val: Samples
    test: Samples
    graph: GlobalGraph | None
    vocabulary: Vocabulary
    counts: dict[str, int] = field(default_factory=dict)
    fit_offsets: np.ndarray | None = None

    @property
    def fit_sessions(self) -> Sessions:
        """The fit sessions (chronological; no validation or test session among them)."""
        if self.fit_offsets is None:
            raise ValueError("these prepared data do not record the fit sessions' boundaries")
        return Sessions(items=self.train.flat, offsets=self.fit_offsets)

    def with_graph(self, options: PrepareOptions) -> GlobalGraph:
        """The global graph of the fit sessions, built now if it was not yet."""
        if self.graph is None:
            self.graph = build_global_graph(
                self.fit_sessions,
                self.num_items,
                window=options.graph_window,
                top_k=options.graph_top_k,
            )
        return self.graph


def prepare(
    raw: RawSessions, num_items: int, options: PrepareOptions, with_global_graph: bool = True
) -> PreparedData:
    """Split, augment and (``with_global_graph``) build the global graph (module docstring)."""
    fit_sessions, val_sessions = split_last_sessions(raw.train_sessions, options.val_fraction)
    train = prefix_samples(fit_sessions, options.min_prefix_length)
    val = prefix_samples(val_sessions, options.min_prefix_length)
    counts = {
        "fit_sessions": len(fit_sessions),
        "val_sessions": len(val_sessions),
        "test_sessions": -1 if raw.test_sessions_count is None else raw.test_sessions_count,
        "train_samples": len(train),
        "val_samples": len(val),
        "test_samples": len(raw.test),
        "fit_sessions_without_samples": int(
            (fit_sessions.lengths <= options.min_prefix_length).sum()
        ),
        "val_sessions_without_samples": int(
            (val_sessions.lengths <= options.min_prefix_length).sum()
        ),
    }
    logger.info(
        "prepared %d train samples from %d sessions, %d validation samples from %d sessions, "
        "%d test samples",
        len(train),
        len(fit_sessions),
        len(val),
        len(val_sessions),
        len(raw.test),
    )
    check_splits(counts, options)  # before the graph, which needs a fit session of 2 clicks
    graph = None
    if with_global_graph:
        graph = build_global_graph(
            fit_sessions, num_items, window=options.graph_window, top_k=options.graph_top_k
        )
    return PreparedData(
        num_items, train, val, raw.test, graph, raw.vocabulary, counts, fit_sessions.offsets
    )


def _rule(min_prefix_length: int) -> str:
    return (
        f"the dataset's augmentation rule min_prefix_length={min_prefix_length} makes a sample "
        f"of every prefix of length >= {min_prefix_length}, so a session needs at least "
        f"{min_prefix_length + 1} clicks"
    )


def check_splits(counts: dict[str, int], options: PrepareOptions) -> None:
    """Raise :class:`DataError` for a split the rules leave without samples.

    Args:
        counts: The counts of :func:`prepare`.
        options: The options that made them.

    Raises:
        DataError: No training sample; validation asked for (``val_fraction > 0``) but its
            sessions give no sample; or no test sample. The message names the split, the rule
            that emptied it and how to change it.
    """
    m = options.min_prefix_length
    if not counts["train_samples"]:
        raise DataError(
            f"no training sample: the {counts['fit_sessions']} fit sessions are all too short "
            f"({_rule(m)}); use a dataset with longer sessions"
            + (
                f", or a smaller val_fraction (now {options.val_fraction}, which holds out the "
                f"last {counts['val_sessions']} sessions)"
                if counts["val_sessions"]
                else ""
            )
        )
    if options.val_fraction > 0 and not counts["val_samples"]:
        sessions = counts["val_sessions"]
        raise DataError(
            f"the validation split is empty: val_fraction={options.val_fraction} holds out the "
            f"last {sessions} validation session{'s' if sessions != 1 else ''}, which give no "
            f"sample ({_rule(m)}); raise val_fraction, or set val_fraction=0 to train without "
            "validation"
        )
    if not counts["test_samples"]:
        sessions = counts["test_sessions"]
        if sessions < 0:
            raise DataError("no test sample: the test file holds no (prefix, target) pair")
        raise DataError(
            f"no test sample: the {sessions} test sessions are all too short ({_rule(m)}); "
            "the test split is empty"
        )
