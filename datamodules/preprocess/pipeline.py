"""The one preparation pipeline; recipes differ only in its parameters and their reader.

Steps, in order (each optional step is off by default):

1. remove immediate repeats (LESSR);
2. truncate sessions to their first ``truncate_length`` clicks (LESSR);
3. keep the ``top_items`` most clicked items (LESSR);
4. length and support filters, either once (SR-GNN/GCE-GNN/MTD/session-rec: sessions shorter
   than ``min_session_length`` dropped, item support counted once, then sessions outside
   ``min_session_length..max_session_length`` dropped) or iterated until nothing changes
   (LESSR, ``iterate_filters``);
5. split by time (``test_seconds``) or by the fraction of sessions (``test_fraction``);
6. order sessions chronologically, renumber items ``1..N``, remove test clicks on unseen items
   and drop test sessions shorter than ``test_min_length``;
7. optionally keep only the most recent ``1/train_tail_fraction`` of the training samples
   (SR-GNN's yoochoose 1/4 and 1/64).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from datamodules.preprocess import filters
from datamodules.preprocess.clicks import ClickLog, Counts
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.report import Report
from datamodules.preprocess.split import (
    chronological,
    first_appearance,
    gather,
    split_by_fraction,
    split_by_time,
)
from datamodules.processed import ProcessedDataset, Sessions, offsets_from_lengths


@dataclass(frozen=True)
class PipelineConfig:
    """Parameters of :func:`run_pipeline` (see the module docstring for the step order).

    Attributes:
        remove_immediate_repeats: Drop a click equal to the previous one in its session.
        truncate_length: Keep the first N clicks of each session.
        top_items: Keep the N most clicked items.
        min_session_length: Shortest session kept by the length filters.
        max_session_length: Longest session kept by the length filter (None: no limit).
        min_item_support: Fewest clicks an item needs to be kept.
        iterate_filters: Repeat length and support filters until nothing changes.
        session_time: ``"end"``: a session's time is its latest remaining click (LESSR,
            session-rec); ``"raw_last"``: the time of its last raw row, fixed when the log was
            read (SR-GNN, GCE-GNN, MTD).
        test_seconds: Time split: sessions within this many seconds of the latest are test.
        test_fraction: Fraction split: this fraction of the sessions, latest first, is test.
        split_boundary: Time split: a session exactly at the split time is ``"drop"``-ped or
            goes to ``"test"``.
        item_order: ``"chronological"`` or ``"rows"``, see :mod:`~datamodules.preprocess.split`.
        test_min_length: Shortest test session kept after removing unseen items.
        min_prefix_length: Augmentation rule stored with the dataset (1: every prefix).
        train_tail_fraction: Keep the latest ``1/k`` of the training samples (SR-GNN yoochoose).
    """

    remove_immediate_repeats: bool = False
    truncate_length: int | None = None
    top_items: int | None = None
    min_session_length: int = 2
    max_session_length: int | None = None
    min_item_support: int = 5
    iterate_filters: bool = False
    session_time: str = "end"
    test_seconds: float | None = None
    test_fraction: float | None = None
    split_boundary: str = "drop"
    item_order: str = "chronological"
    test_min_length: int = 2
    min_prefix_length: int = 1
    train_tail_fraction: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-serialisable dict."""
        return asdict(self)

    def validate(self) -> None:
        """Raise :class:`PrepareError` naming the option whose value cannot work."""
        minimums = {
            "truncate_length": (self.truncate_length, 1),
            "top_items": (self.top_items, 1),
            "min_session_length": (self.min_session_length, 1),
            "max_session_length": (self.max_session_length, 1),
            "min_item_support": (self.min_item_support, 1),
            "test_min_length": (self.test_min_length, 2),
            "min_prefix_length": (self.min_prefix_length, 1),
            "train_tail_fraction": (self.train_tail_fraction, 1),
        }
        for name, (value, minimum) in minimums.items():
            if value is not None and value < minimum:
                option = "--" + name.replace("_", "-")
                raise PrepareError(f"{option} must be >= {minimum}, got {value}")
        if (
            self.max_session_length is not None
            and self.max_session_length < self.min_session_length
        ):
            raise PrepareError(
                f"--max-session-length {self.max_session_length} is below "
                f"--min-session-length {self.min_session_length}"
            )
        if self.test_seconds is not None and self.test_seconds <= 0:
            raise PrepareError(f"the test window must be positive, got {self.test_seconds} s")
        if self.test_fraction is not None and not 0 < self.test_fraction < 1:
            raise PrepareError(f"--test-fraction must be in (0, 1), got {self.test_fraction}")


def apply(log: ClickLog, keep: np.ndarray, name: str, report: Report, **extra: Any) -> ClickLog:
    """Keep the rows where ``keep`` holds and record the step in ``report``."""
    before = log.counts()
    if keep.all():
        after_log = log
    else:
        after_log = log.select(keep)
    report.record_step(name, before, after_log.counts(), **extra)
    return after_log


def _length_name(min_length: int, max_length: int | None) -> str:
    if max_length is None:
        return f"sessions shorter than {min_length}"
    return f"sessions shorter than {min_length} or longer than {max_length}"


def filter_log(log: ClickLog, config: PipelineConfig, report: Report) -> ClickLog:
    """Steps 1-4 of the pipeline."""
    if config.remove_immediate_repeats:
        log = apply(log, filters.immediate_repeat_mask(log), "immediate repeats", report)
    if config.truncate_length is not None:
        log = apply(
            log,
            filters.truncate_mask(log, config.truncate_length),
            f"clicks after the first {config.truncate_length} of a session",
            report,
        )
    if config.top_items is not None:
        log = apply(
            log,
            filters.top_items_mask(log, config.top_items),
            f"items outside the {config.top_items:,} most clicked",
            report,
        )
    support = f"items with support < {config.min_item_support}"
    if config.iterate_filters:
        length_name = _length_name(config.min_session_length, config.max_session_length)
        iteration = 1
        while True:
            rows = len(log)
            log = apply(
                log,
                filters.session_length_mask(
                    log, config.min_session_length, config.max_session_length
                ),
                f"{length_name} (pass {iteration})",
                report,
            )
            log = apply(
                log,
                filters.item_support_mask(log, config.min_item_support),
                f"{support} (pass {iteration})",
                report,
            )
            if len(log) == rows:
                break
            iteration += 1
        return log
    log = apply(
        log,
        filters.session_length_mask(log, config.min_session_length),
        f"sessions shorter than {config.min_session_length} (before counting support)",
        report,
    )
    log = apply(log, filters.item_support_mask(log, config.min_item_support), support, report)
    return apply(
        log,
        filters.session_length_mask(log, config.min_session_length, config.max_session_length),
        _length_name(config.min_session_length, config.max_session_length),
        report,
    )


def num_samples(lengths: np.ndarray, min_prefix_length: int) -> int:
    """Samples a set of sessions gives: prefixes of length ``>= min_prefix_length``."""
    return int(np.maximum(lengths - min_prefix_length, 0).sum())


def run_pipeline(
    log: ClickLog, config: PipelineConfig, report: Report, name: str
) -> ProcessedDataset:
    """Filter, split and renumber ``log``; fill ``report``; return the processed dataset."""
    if config.session_time not in ("end", "raw_last"):
        raise ValueError(f"unknown session_time {config.session_time!r}")
    log = filter_log(log, config, report)
    present = log.session_lengths() > 0
    if config.session_time == "raw_last":
        if log.session_date is None:
            raise ValueError("session_time='raw_last' needs a log read with session dates")
        dates = log.session_date
    else:
        dates = log.session_end_times()
    if (config.test_seconds is None) == (config.test_fraction is None):
        raise ValueError("exactly one of test_seconds and test_fraction must be set")
    if config.test_seconds is not None:
        split = split_by_time(dates, present, config.test_seconds, config.split_boundary)
    else:
        split = split_by_fraction(dates, present, config.test_fraction)
    report.split = split.info
    if not len(split.train):
        raise PrepareError(
            f"the split leaves no training session (split at {split.info.get('split_date')}, "
            f"{len(split.test)} test sessions): choose a shorter test window"
        )

    train_order = chronological(split.train, dates)
    train_items, train_lengths = gather(log, train_order)
    if config.item_order == "chronological":
        vocabulary_codes = first_appearance(train_items)
    elif config.item_order == "rows":
        rows_items, _ = gather(log, split.train)
        vocabulary_codes = first_appearance(rows_items)
    else:
        raise ValueError(f"unknown item_order {config.item_order!r}")
    new_id = np.zeros(len(log.item_values), dtype=np.int64)
    new_id[vocabulary_codes] = np.arange(1, len(vocabulary_codes) + 1)
    train = Sessions(items=new_id[train_items], offsets=offsets_from_lengths(train_lengths))

    test = _clean_test(log, chronological(split.test, dates), new_id, config, report)
    metadata: dict[str, Any] = {}
    if config.train_tail_fraction is not None:
        train, tail = _train_tail(train, config, report)
        metadata["gcegnn_train_samples"] = tail
    vocabulary = log.item_values[vocabulary_codes].tolist()
    report.final = {
        "train_sessions": len(train),
        "test_sessions": len(test),
        "items": len(vocabulary),
        "train_clicks": len(train.items),
        "test_clicks": len(test.items),
        "train_samples": num_samples(train.lengths, config.min_prefix_length),
        "test_samples": num_samples(test.lengths, config.min_prefix_length),
        "min_prefix_length": config.min_prefix_length,
    }
    return ProcessedDataset(
        train=train,
        test=test,
        vocabulary=vocabulary,
        name=name,
        min_prefix_length=config.min_prefix_length,
        metadata=metadata,
    )


def _clean_test(
    log: ClickLog,
    test_order: np.ndarray,
    new_id: np.ndarray,
    config: PipelineConfig,
    report: Report,
) -> Sessions:
    """Test sessions in order, unseen items removed, short sessions dropped (both recorded)."""
    items, lengths = gather(log, test_order)
    session = np.repeat(np.arange(len(test_order)), lengths)
    mapped = new_id[items]
    seen = mapped > 0

    def counts(mask: np.ndarray) -> tuple[int, int, int]:
        return (
            int(mask.sum()),
            int(np.count_nonzero(np.bincount(session[mask], minlength=len(test_order)))),
            int(np.count_nonzero(np.bincount(items[mask], minlength=len(log.item_values)))),
        )

    everything = np.ones(len(items), dtype=bool)
    before = Counts(*counts(everything))
    report.record_step(
        "test clicks on items not in train", before, Counts(*counts(seen)), stage="after split"
    )
    kept_lengths = np.bincount(session[seen], minlength=len(test_order))
    long_enough = kept_lengths >= config.test_min_length
    final = seen & long_enough[session]
    report.record_step(
        f"test sessions shorter than {config.test_min_length} after that",
        Counts(*counts(seen)),
        Counts(*counts(final)),
        stage="after split",
    )
    return Sessions(items=mapped[final], offsets=offsets_from_lengths(kept_lengths[long_enough]))


def _train_tail(train: Sessions, config: PipelineConfig, report: Report) -> tuple[Sessions, int]:
    """SR-GNN's yoochoose 1/k: keep the sessions holding the latest ``1/k`` of the samples.

    SR-GNN keeps ``tr_seqs[-K:]`` with ``K = int(len(tr_seqs) / k)`` (samples, not sessions)
    and ``tra_seqs[tr_ids[-K]:]`` (every session from the one holding sample ``-K``). The
    processed dataset keeps those sessions whole; ``K`` is stored so that the GCE-GNN export
    writes exactly SR-GNN's ``train.txt``.
    """
    k = config.train_tail_fraction
    per_session = np.maximum(train.lengths - config.min_prefix_length, 0)
    total = int(per_session.sum())
    tail = total // k
    if tail == 0:
        raise PrepareError(f"1/{k} of {total} training samples is less than one sample")
    cumulative = np.cumsum(per_session)
    first = int(np.searchsorted(cumulative, total - tail, side="right"))
    lengths = train.lengths[first:]
    kept = Sessions(
        items=train.items[train.offsets[first] :].copy(), offsets=offsets_from_lengths(lengths)
    )
    sessions_before = len(train)
    report.steps.append(
        {
            "step": f"training sessions before the latest 1/{k} of the samples",
            "stage": "after split",
            "rows_removed": int(train.offsets[first]),
            "sessions_removed": first,
            "items_removed": int(len(np.unique(train.items)) - len(np.unique(kept.items))),
            "rows": len(kept.items),
            "sessions": sessions_before - first,
            "items": len(np.unique(kept.items)),
            "srgnn_train_samples": tail,
        }
    )
    return kept, tail
