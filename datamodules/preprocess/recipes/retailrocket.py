"""RetailRocket with MTD's recipe, the source of DMI-GNN's RetailRocket split.

Source: sessionRec/MTD ``datasets/retailrocket/preprocess_rr.py`` (sessionisation) followed by
``datasets/preprocess_v2.py --dataset retailrocket`` (filters, split, renumbering, ``m = 2``).
Semantics reproduced:

* raw Kaggle ``events.csv`` (``timestamp,visitorid,event,itemid,transactionid``, ms):
  ``Time = int(timestamp / 1000)``; rows sorted by (visitorid, Time), stable; a new session
  starts where ``|Time - previous Time| > 1800`` over **all** event types. Like MTD, a change
  of visitor alone does not start a session (``--split-users`` makes it do so); then only
  ``view`` events are kept;
* the already-sessionised file (header ``timestamp user_id item_id session_id``, unix seconds,
  MTD's ``event1.csv`` and the layout of ``shared/data/retailrocket-sample``) is read as is;
* a session's date is the time of its last view (before filtering); clicks keep time order;
* sessions with ``len <= 2`` dropped; item support ``>= 5`` counted **once** (MTD's
  ``preprocess_v2.py``, like session-rec's ``filter_data``: not iterated); sessions with
  ``len <= 2`` after that dropped;
* ``split = maxdate - 7 days``; ``<`` train, ``>`` test, ``==`` dropped;
* ids by first appearance in date-sorted train sessions; unseen test items removed; test
  sessions ``< 2`` dropped (a length-2 test session gives no sample with ``m = 2``);
* samples are the prefixes of length ``>= 2`` (``m = 2``).
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
from datamodules.preprocess.recipes.base import (
    DAY,
    Recipe,
    add_filter_arguments,
    counts_of,
    positive_number,
)
from datamodules.preprocess.report import Report
from datamodules.preprocess.sessionize import sessionize_by_gap
from datamodules.preprocess.sniff import guess_delimiter, head_lines, split_fields
from datamodules.preprocess.times import MILLISECONDS_LIMIT, SECONDS_LIMIT

RAW_COLUMNS = ("timestamp", "visitorid", "event", "itemid")
SESSIONISED_COLUMNS = ("timestamp", "item_id", "session_id")


class RetailRocket(Recipe):
    """Kaggle RetailRocket ``events.csv`` with MTD's recipe (``m = 2``)."""

    name = "retailrocket"
    summary = "Kaggle RetailRocket events.csv, MTD recipe (views, 30-min sessions, m = 2)"
    source = (
        "MTD datasets/retailrocket/preprocess_rr.py + datasets/preprocess_v2.py "
        "(github.com/sessionRec/MTD), the RetailRocket split shipped with DMI-GNN"
    )
    raw_format = (
        "events.csv: ',' separated, header timestamp,visitorid,event,itemid,transactionid "
        "(ms); or a sessionised file with header timestamp user_id item_id session_id (s)"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--session-gap",
            type=positive_number,
            default=1800.0,
            metavar="SECONDS",
            help="largest pause inside a session (default: %(default)s)",
        )
        parser.add_argument(
            "--split-users",
            action="store_true",
            help="also start a session at every visitor change (MTD does not)",
        )
        parser.add_argument(
            "--test-days",
            type=positive_number,
            default=7.0,
            metavar="D",
            help="test = sessions after max time - D days (default: %(default)s)",
        )
        parser.add_argument(
            "--min-prefix-length",
            type=int,
            default=2,
            metavar="M",
            help="samples are the prefixes of length >= M (default: %(default)s)",
        )
        add_filter_arguments(parser, min_session_length=3, min_item_support=5)

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        first = head_lines(paths[0])[0] if paths and Path(paths[0]).is_file() else ""
        delimiter = self.delimiter(args) or guess_delimiter(first) or ","
        header = {f.strip() for f in split_fields(first, delimiter)}
        text = TextOptions(delimiter=delimiter, skip_bad_rows=args.skip_bad_rows)
        if set(SESSIONISED_COLUMNS) <= header:
            return self._load_sessionised(paths, text, report)
        return self._load_events(paths, args, text, report)

    def _load_sessionised(
        self, paths: Sequence[Path], text: TextOptions, report: Report
    ) -> ClickLog:
        specs = [
            ColumnSpec("session", "session_id", "int_id"),
            ColumnSpec("item", "item_id", "int_id"),
            ColumnSpec("time", "timestamp", "number", limit=SECONDS_LIMIT),
        ]
        result = read_log(paths, specs, text)
        session, item = result.columns["session"], result.columns["item"]
        time = result.columns["time"]
        log = ClickLog.from_rows(session.codes, item.codes, time, item.values, date=time)
        report.record_read(log.counts(), skipped_rows=result.skipped_rows, layout="sessionised")
        return log

    def _load_events(
        self, paths: Sequence[Path], args: argparse.Namespace, text: TextOptions, report: Report
    ) -> ClickLog:
        specs = [
            ColumnSpec("time", "timestamp", "int", limit=MILLISECONDS_LIMIT),
            ColumnSpec("visitor", "visitorid", "int_id"),
            ColumnSpec("event", "event", "label"),
            ColumnSpec("item", "itemid", "int_id"),
        ]
        result = read_log(paths, specs, text)
        visitor, event, item = (result.columns[k] for k in ("visitor", "event", "item"))
        seconds = np.floor(result.columns["time"] / 1000.0)  # MTD: (Time / 1000).astype(int)
        perm, session = sessionize_by_gap(
            visitor.values[visitor.codes],
            seconds,
            args.session_gap,
            break_on_user=args.split_users,
            absolute=True,
        )
        items = item.codes[perm]
        seconds = seconds[perm]
        is_view = np.asarray(event.values == "view")
        if not is_view.any():
            raise PrepareError("no 'view' event in the column 'event'", path=paths[0])
        views = is_view[event.codes[perm]]
        del perm
        before = counts_of(session, items)
        report.record_read(before, skipped_rows=result.skipped_rows, layout="events")
        session, items, seconds = session[views], items[views], seconds[views]
        report.record_step("events other than 'view'", before, counts_of(session, items))
        return ClickLog.from_rows(session, items, seconds, item.values, date=seconds)

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        return PipelineConfig(
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            session_time="raw_last",
            test_seconds=args.test_days * DAY,
            split_boundary="drop",
            min_prefix_length=args.min_prefix_length,
        )
