"""SR-GNN's ``datasets/preprocess.py`` recipes: Diginetica and YOOCHOOSE.

Source: CRIPAC-DIG/SR-GNN ``datasets/preprocess.py`` (used unchanged by GCE-GNN and DMI-GNN
for Diginetica). Semantics reproduced:

* a session's date is the time of its **last row in file order**, taken before any filter
  (Diginetica: ``eventdate``; YOOCHOOSE: the ``timestamp`` cut to whole seconds);
* Diginetica clicks are ordered by ``timeframe`` within a session (stable); YOOCHOOSE keeps
  file order;
* length-1 sessions dropped, item support ``>= 5`` counted once, sessions ``< 2`` dropped;
* ``split = maxdate - 7 days`` (YOOCHOOSE: 1 day); ``date < split`` train, ``date > split``
  test, sessions exactly at ``split`` dropped (Diginetica dates are days, so the sessions of
  the split day are dropped);
* ids ``1..N`` by first appearance in the date-sorted train sessions; test clicks on unseen
  items removed; test sessions ``< 2`` dropped; every prefix is a sample (``m = 1``);
* YOOCHOOSE ``--fraction k``: SR-GNN keeps the latest ``int(len(samples) / k)`` training
  samples and the sessions from the one holding the first of them; items keep their ids from
  the full training set and test is not re-filtered (SR-GNN's ``yoochoose1_4`` and
  ``yoochoose1_64`` share ``test.txt`` and ``n_node``).

SR-GNN converts dates with ``time.mktime`` (the machine's local time); this package uses UTC,
which gives the same split unless a daylight-saving change falls inside the test window.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datamodules.preprocess.clicks import ClickLog
from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.pipeline import PipelineConfig
from datamodules.preprocess.readers import ColumnSpec, TextOptions, read_log
from datamodules.preprocess.recipes.base import DAY, Recipe, add_filter_arguments, positive_number
from datamodules.preprocess.report import Report

SOURCE = "SR-GNN datasets/preprocess.py (github.com/CRIPAC-DIG/SR-GNN, Wu et al., AAAI 2019)"
YOOCHOOSE_COLUMNS = ("session_id", "timestamp", "item_id", "category")


class Diginetica(Recipe):
    """CIKM Cup 2016 ``train-item-views.csv`` with SR-GNN's recipe."""

    name = "diginetica"
    summary = "CIKM Cup 2016 Diginetica train-item-views.csv, SR-GNN recipe (7-day test)"
    source = SOURCE + "; the split used by GCE-GNN and DMI-GNN"
    raw_format = (
        "train-item-views.csv: ';'-separated, header session_id;user_id;item_id;timeframe;eventdate"
    )
    default_delimiter = ";"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--test-days",
            type=positive_number,
            default=7.0,
            metavar="D",
            help="test = sessions dated after max date - D days (default: %(default)s)",
        )
        add_filter_arguments(parser, min_session_length=2, min_item_support=5)

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        specs = [
            ColumnSpec("session", "session_id", "int_id"),
            ColumnSpec("item", "item_id", "int_id"),
            ColumnSpec("order", "timeframe", "int"),
            ColumnSpec("date", "eventdate", "date"),
        ]
        text = TextOptions(delimiter=self.delimiter(args), skip_bad_rows=args.skip_bad_rows)
        result = read_log(paths, specs, text)
        session, item = result.columns["session"], result.columns["item"]
        date = result.columns["date"]
        log = ClickLog.from_rows(
            session.codes, item.codes, date, item.values, order=result.columns["order"], date=date
        )
        report.record_read(log.counts(), skipped_rows=result.skipped_rows)
        return log

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        return PipelineConfig(
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            session_time="raw_last",
            test_seconds=args.test_days * DAY,
            split_boundary="drop",
        )


class Yoochoose(Recipe):
    """RecSys Challenge 2015 ``yoochoose-clicks.dat`` with SR-GNN's recipe."""

    name = "yoochoose"
    summary = "RecSys 2015 yoochoose-clicks.dat, SR-GNN recipe (1-day test, --fraction 4/64)"
    source = SOURCE + "; --fraction 64 / 4 give SR-GNN's yoochoose1_64 / yoochoose1_4"
    raw_format = (
        "yoochoose-clicks.dat: ',' separated, no header (a header line "
        "session_id,timestamp,item_id,category is accepted), rows "
        "session_id,timestamp(ISO-8601 Z),item_id,category"
    )
    default_delimiter = ","

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--fraction",
            type=int,
            default=1,
            metavar="K",
            help="keep the latest 1/K of the training samples as SR-GNN does (4 or 64; "
            "default: %(default)s = all)",
        )
        parser.add_argument(
            "--test-days",
            type=positive_number,
            default=1.0,
            metavar="D",
            help="test = sessions after max date - D days (default: %(default)s)",
        )
        add_filter_arguments(parser, min_session_length=2, min_item_support=5)

    def dataset_name(self, args: argparse.Namespace) -> str:
        return "yoochoose" if args.fraction == 1 else f"yoochoose1_{args.fraction}"

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        specs = [
            ColumnSpec("session", "session_id", "int_id"),
            ColumnSpec("time", "timestamp", "time", time_format="iso"),
            ColumnSpec("item", "item_id", "int_id"),
        ]
        text = TextOptions(
            delimiter=self.delimiter(args),
            header=None,
            column_names=YOOCHOOSE_COLUMNS,
            skip_bad_rows=args.skip_bad_rows,
        )
        result = read_log(paths, specs, text)
        session, item = result.columns["session"], result.columns["item"]
        seconds = np.floor(result.columns["time"])  # SR-GNN parses timestamp[:19]
        log = ClickLog.from_rows(session.codes, item.codes, seconds, item.values, date=seconds)
        report.record_read(log.counts(), skipped_rows=result.skipped_rows)
        return log

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        if args.fraction < 1:
            raise PrepareError(f"--fraction must be 1 or more, not {args.fraction}")
        return PipelineConfig(
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            session_time="raw_last",
            test_seconds=args.test_days * DAY,
            split_boundary="drop",
            train_tail_fraction=args.fraction if args.fraction > 1 else None,
        )
