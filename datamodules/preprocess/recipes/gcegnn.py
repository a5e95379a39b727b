"""GCE-GNN's ``process_tmall.py`` and ``process_nowplaying.py`` recipes.

Source: CCIIPLab/GCE-GNN ``datasets/process_tmall.py`` and ``datasets/process_nowplaying.py``
(Wang et al., SIGIR 2020); DMI-GNN ships GCE-GNN's Tmall pickles unchanged. Input: the
sessionised TAB-separated ``dataset15.csv`` / ``nowplaying.csv`` with a header naming
``SessionId``, ``ItemId`` and ``Time``. Semantics reproduced:

* Tmall only: rows are read until the first row whose ``SessionId`` exceeds 120,000 (the
  script ``break``-s there, GCE-GNN issue #1), so later rows are dropped whatever their id;
* a session's date is the ``Time`` of its last row in file order, before any filter;
  clicks keep file order;
* length-1 sessions dropped; item support ``>= 5`` counted once; sessions kept when
  ``2 <= len <= 40`` (Nowplaying: 30) after the support filter;
* ``split = maxdate - 100`` in ``Time`` units (Nowplaying: ``- 60 * 86400``); ``date < split``
  train, ``date > split`` test, ``date == split`` dropped;
* ids ``1..N`` by first appearance in the date-sorted train sessions; test clicks on unseen
  items removed, test sessions ``< 2`` dropped; ``m = 1``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datamodules.preprocess.clicks import ClickLog
from datamodules.preprocess.pipeline import PipelineConfig
from datamodules.preprocess.readers import ColumnSpec, TextOptions, read_log
from datamodules.preprocess.recipes.base import (
    DAY,
    Recipe,
    add_filter_arguments,
    counts_of,
    positive_number,
    rerank,
)
from datamodules.preprocess.report import Report
from datamodules.preprocess.times import SECONDS_LIMIT


class _GceGnnSessions(Recipe):
    """Shared reader of GCE-GNN's sessionised TSVs."""

    default_delimiter = "\t"
    max_session_length: int
    max_session_id: int | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        if self.max_session_id is not None:
            parser.add_argument(
                "--max-session-id",
                type=int,
                default=self.max_session_id,
                metavar="ID",
                help="stop reading at the first row whose SessionId exceeds ID; 0 reads "
                "everything (default: %(default)s)",
            )
        add_filter_arguments(
            parser,
            min_session_length=2,
            min_item_support=5,
            max_session_length=self.max_session_length,
        )

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        specs = [
            ColumnSpec("session", "SessionId", "int_id"),
            ColumnSpec("item", "ItemId", "int_id"),
            ColumnSpec("time", "Time", "number", limit=SECONDS_LIMIT),
        ]
        text = TextOptions(delimiter=self.delimiter(args), skip_bad_rows=args.skip_bad_rows)
        result = read_log(paths, specs, text)
        session, item = result.columns["session"], result.columns["item"]
        codes, items, time = session.codes, item.codes, result.columns["time"]
        report.record_read(counts_of(codes, items), skipped_rows=result.skipped_rows)
        cut = getattr(args, "max_session_id", 0)
        if cut:
            over = np.flatnonzero(session.values[codes] > cut)
            end = int(over[0]) if len(over) else len(codes)
            before = counts_of(codes, items)
            codes, items, time = codes[:end], items[:end], time[:end]
            report.record_step(
                f"rows from the first SessionId > {cut:,} on", before, counts_of(codes, items)
            )
            codes = rerank(codes)
        return ClickLog.from_rows(codes, items, time, item.values, date=time)


class Tmall(_GceGnnSessions):
    """IJCAI-15 Tmall, sessionised ``dataset15.csv``, GCE-GNN's recipe."""

    name = "tmall"
    summary = "IJCAI-15 Tmall dataset15.csv, GCE-GNN recipe (120k sessions, len <= 40)"
    source = (
        "GCE-GNN datasets/process_tmall.py (github.com/CCIIPLab/GCE-GNN, Wang et al., "
        "SIGIR 2020); the Tmall split shipped with DMI-GNN"
    )
    raw_format = "dataset15.csv: TAB-separated with a header naming SessionId, ItemId, Time"
    max_session_length = 40
    max_session_id = 120_000

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--test-time",
            type=positive_number,
            default=100.0,
            metavar="T",
            help="test = sessions after max Time - T, in Time units (default: %(default)s)",
        )

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        return PipelineConfig(
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            max_session_length=args.max_session_length,
            session_time="raw_last",
            test_seconds=args.test_time,
            split_boundary="drop",
        )


class Nowplaying(_GceGnnSessions):
    """#nowplaying, sessionised ``nowplaying.csv``, GCE-GNN's recipe."""

    name = "nowplaying"
    summary = "#nowplaying nowplaying.csv, GCE-GNN recipe (len <= 30, 60-day test)"
    source = "GCE-GNN datasets/process_nowplaying.py (github.com/CCIIPLab/GCE-GNN)"
    raw_format = "nowplaying.csv: TAB-separated with a header naming SessionId, ItemId, Time"
    max_session_length = 30

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--test-days",
            type=positive_number,
            default=60.0,
            metavar="D",
            help="test = sessions after max Time - D days (default: %(default)s)",
        )

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        return PipelineConfig(
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            max_session_length=args.max_session_length,
            session_time="raw_last",
            test_seconds=args.test_days * DAY,
            split_boundary="drop",
        )
