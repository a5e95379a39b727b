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

Support scope: the published recipes count item support (and popularity for ``top_items``)
over the whole log, test period included, before splitting (``support_scope="all"``). With
``support_scope="train"`` (the ``generic`` default) steps 1-2 and the first length filter run,
then the split (step 5) fixes each session's side, then steps 3-4 count only the training
sessions' clicks, so no test-period click decides what enters the training vocabulary.
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
    SplitSessions,
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
        support_scope: Which clicks ``min_item_support`` and ``top_items`` count: ``"all"``,
            the whole log before the split (the published recipes), or ``"train"``, only the
            training period's (split first; leak-free, the ``generic`` default).
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
    support_scope: str = "all"

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


UNSEEN_STEP = "test clicks on items not in train"


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


def _session_local_steps(log: ClickLog, config: PipelineConfig, report: Report) -> ClickLog:
    """Steps 1-2: each session on its own (no count over the log)."""
    if config.remove_immediate_repeats:
        log = apply(log, filters.immediate_repeat_mask(log), "immediate repeats", report)
    if config.truncate_length is not None:
        log = apply(
            log,
            filters.truncate_mask(log, config.truncate_length),
            f"clicks after the first {config.truncate_length} of a session",
            report,
        )
    return log


def _counting_steps(
    log: ClickLog,
    config: PipelineConfig,
    report: Report,
    counted_sessions: np.ndarray | None = None,
) -> ClickLog:
    """Steps 3-4: top items and the length/support filters.

    Args:
        log: The clicks.
        config: The pipeline parameters.
        report: Where each step is recorded.
        counted_sessions: ``(num_sessions,)`` bool: only these sessions' clicks count towards
            item support and popularity (``support_scope="train"``); None counts every click.
    """

    def counted(current: ClickLog) -> np.ndarray | None:
        return None if counted_sessions is None else counted_sessions[current.session]

    scope = "" if counted_sessions is None else " in the training period"
    stage = "filter" if counted_sessions is None else "after split"
    if config.top_items is not None:
        log = apply(
            log,
            filters.top_items_mask(log, config.top_items, counted(log)),
            f"items outside the {config.top_items:,} most clicked{scope}",
            report,
            stage=stage,
        )
    support = f"items with support < {config.min_item_support}{scope}"
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
                stage=stage,
            )
            log = apply(
                log,
                filters.item_support_mask(log, config.min_item_support, counted(log)),
                f"{support} (pass {iteration})",
                report,
                stage=stage,
            )
            if len(log) == rows:
                break
            iteration += 1
        return log
    if counted_sessions is None:  # with a training scope this ran before the split
        log = apply(
            log,
            filters.session_length_mask(log, config.min_session_length),
            f"sessions shorter than {config.min_session_length} (before counting support)",
            report,
            stage=stage,
        )
    log = apply(
        log,
        filters.item_support_mask(log, config.min_item_support, counted(log)),
        support,
        report,
        stage=stage,
    )
    return apply(
        log,
        filters.session_length_mask(log, config.min_session_length, config.max_session_length),
        _length_name(config.min_session_length, config.max_session_length),
        report,
        stage=stage,
    )


def filter_log(log: ClickLog, config: PipelineConfig, report: Report) -> ClickLog:
    """Steps 1-4 of the pipeline, every click counting (``support_scope="all"``)."""
    return _counting_steps(_session_local_steps(log, config, report), config, report)


def _session_dates(log: ClickLog, config: PipelineConfig) -> np.ndarray:
    """``(num_sessions,)`` the time each session is split and ordered by."""
    if config.session_time == "raw_last":
        if log.session_date is None:
            raise ValueError("session_time='raw_last' needs a log read with session dates")
        return log.session_date
    return log.session_end_times()


def _split(log: ClickLog, dates: np.ndarray, config: PipelineConfig) -> SplitSessions:
    present = log.session_lengths() > 0
    if config.test_seconds is not None:
        return split_by_time(dates, present, config.test_seconds, config.split_boundary)
    return split_by_fraction(dates, present, config.test_fraction)


def _filter_then_split(
    log: ClickLog, config: PipelineConfig, report: Report
) -> tuple[ClickLog, SplitSessions, np.ndarray]:
    """``support_scope="all"`` (the published recipes): filter, then split what is left."""
    log = filter_log(log, config, report)
    dates = _session_dates(log, config)
    return log, _split(log, dates, config), dates


def _split_then_filter(
    log: ClickLog, config: PipelineConfig, report: Report
) -> tuple[ClickLog, SplitSessions, np.ndarray]:
    """``support_scope="train"``: split first, then count support on the training period only.

    The session-local steps and the first length filter run before the split (they use no
    count over the log); the split then fixes which sessions are train and test; the
    popularity and support filters count only the training sessions' clicks and apply to
    every session. A session keeps its side of the split whatever the filters remove.
    """
    log = _session_local_steps(log, config, report)
    log = apply(
        log,
        filters.session_length_mask(log, config.min_session_length),
        f"sessions shorter than {config.min_session_length} (before the split)",
        report,
    )
    split = _split(log, _session_dates(log, config), config)
    counted_sessions = np.zeros(log.num_sessions, dtype=bool)
    counted_sessions[split.train] = True
    before = log
    log = _counting_steps(log, config, report, counted_sessions)
    present = log.session_lengths() > 0
    train, test = split.train[present[split.train]], split.test[present[split.test]]
    if len(split.test) and not len(test):
        raise PrepareError(_emptied_test_problem(before, split.test, counted_sessions, config))
    info = {
        **split.info,
        "support_scope": "train",
        "train_sessions_at_split": len(split.train),
        "test_sessions_at_split": len(split.test),
        "train_sessions": len(train),
        "test_sessions": len(test),
    }
    return log, SplitSessions(train=train, test=test, info=info), _session_dates(log, config)


def _emptied_test_problem(
    log: ClickLog, test: np.ndarray, counted_sessions: np.ndarray, config: PipelineConfig
) -> str:
    """Why the filters counted on the training period left no test session."""
    is_test = np.zeros(log.num_sessions, dtype=bool)
    is_test[test] = True
    test_rows = is_test[log.session]
    support = filters.item_counts(log, counted_sessions[log.session])
    rare = support[log.item[test_rows]] < config.min_item_support
    return (
        f"the test split is empty: the filters after the split removed all {len(test)} test "
        f"sessions; {int(rare.sum())} of their {int(test_rows.sum())} test clicks are on items "
        f"with support < {config.min_item_support} in the training period (rule: such items "
        f"are removed, and items not in train have support 0), and sessions shorter than "
        f"{config.min_session_length} are then dropped; choose a longer test window, check the "
        "item ids of the test period, or lower --min-item-support"
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
    if config.support_scope not in ("all", "train"):
        raise ValueError(f"unknown support_scope {config.support_scope!r}")
    if (config.test_seconds is None) == (config.test_fraction is None):
        raise ValueError("exactly one of test_seconds and test_fraction must be set")
    if config.support_scope == "train":
        log, split, dates = _split_then_filter(log, config, report)
    else:
        log, split, dates = _filter_then_split(log, config, report)
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
    _check_not_empty(train, test, config, report)
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


def _check_not_empty(
    train: Sessions, test: Sessions, config: PipelineConfig, report: Report
) -> None:
    """Raise :class:`PrepareError` naming the split left without samples and the rule."""
    m = config.min_prefix_length
    rule = (
        f"with --min-prefix-length {m} a session gives one sample per prefix of length >= {m}, "
        f"so it needs at least {m + 1} clicks"
    )
    if not num_samples(train.lengths, m):
        raise PrepareError(
            f"no training sample: the {len(train)} training sessions have at most "
            f"{int(train.lengths.max(initial=0))} clicks ({rule}); lower --min-prefix-length "
            "or use longer sessions"
        )
    if not len(test):
        raise PrepareError(_empty_test_problem(report, config))
    if not num_samples(test.lengths, m):
        raise PrepareError(
            f"no test sample: the {len(test)} test sessions have at most "
            f"{int(test.lengths.max(initial=0))} clicks ({rule}); choose a longer test window "
            "or lower --min-prefix-length"
        )


def _empty_test_problem(report: Report, config: PipelineConfig) -> str:
    """Why no test session is left: the step of the report that removed the last ones."""
    unseen = next(s for s in report.steps if s["step"] == UNSEEN_STEP)
    clicks = unseen["rows"] + unseen["rows_removed"]
    sessions = unseen["sessions"] + unseen["sessions_removed"]
    where = f"{clicks} test clicks in {sessions} test sessions"
    if not sessions:
        return (
            "the test split is empty: no session is left in the test period after the filters "
            "(see the report); choose a longer test window or weaker filters"
        )
    if not unseen["rows"]:
        return (
            f"the test split is empty: all {where} are on items that never appear in the "
            f"training sessions (rule: {UNSEEN_STEP} are removed); the test period shares no "
            "item with training: choose a longer test window, or check the item ids of the "
            "test period"
        )
    return (
        f"the test split is empty: of the {where}, {unseen['rows_removed']} are on items not in "
        f"train and were removed (rule: {UNSEEN_STEP} are removed), which leaves every test "
        f"session shorter than {config.test_min_length} (rule: test sessions shorter than "
        f"{config.test_min_length} after that are dropped); choose a longer test window"
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
    report.record_step(UNSEEN_STEP, before, Counts(*counts(seen)), stage="after split")
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
