"""Last.fm 1K (artists) with LESSR's recipe, the likely source of DMI-GNN's LastFM split.

Source: twchen/lessr ``utils/data/preprocess.py`` (``preprocess_gowalla_lastfm``) with the
``lastfm`` settings of ``preprocess.py`` (Chen & Wong, KDD 2020). Semantics reproduced:

* input ``userid-timestamp-artid-artname-traid-traname.tsv``: TAB-separated, no header; only
  user, timestamp and **artist id** are used (items are artists); rows missing any of them
  are dropped (``dropna``);
* users numbered by first appearance (``pd.factorize``), rows sorted by (user, time), stable;
  a new session at a user change or a pause of more than 8 hours;
* immediate repeats removed, then sessions cut to their first 20 clicks, then only the 40,000
  most played artists kept (ties: first appearance), then sessions ``< 2`` and items with
  support ``< 5`` removed **repeatedly** until neither removes anything;
* the last 20 % of sessions by end time (``int(0.2 * n)``) are test;
* test clicks on artists unseen in train removed, test sessions ``< 2`` dropped;
* ids ``1..N`` by first appearance in the train rows in user/time order (LESSR's factorize;
  LESSR's 0-based ids plus one), sessions stored by end time; ``m = 1``.
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
    Recipe,
    add_filter_arguments,
    counts_of,
    open_fraction,
    positive_number,
    rerank,
)
from datamodules.preprocess.report import Report
from datamodules.preprocess.sessionize import sessionize_by_gap

LASTFM_COLUMNS = ("userid", "timestamp", "artid", "artname", "traid", "traname")


class LastFM(Recipe):
    """Last.fm 1K listening log with LESSR's recipe."""

    name = "lastfm"
    summary = "Last.fm 1K listening log (artists), LESSR recipe (8-h sessions, 20 %% test)"
    source = (
        "LESSR utils/data/preprocess.py + preprocess.py --dataset lastfm "
        "(github.com/twchen/lessr, Chen & Wong, KDD 2020)"
    )
    raw_format = (
        "userid-timestamp-artid-artname-traid-traname.tsv: TAB-separated, no header, "
        "timestamps ISO-8601 (e.g. 2009-05-04T23:08:57Z)"
    )
    default_delimiter = "\t"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--session-gap",
            type=positive_number,
            default=8 * 3600.0,
            metavar="SECONDS",
            help="largest pause inside a session (default: %(default)s = 8 h)",
        )
        parser.add_argument(
            "--truncate-session-length",
            type=int,
            default=20,
            metavar="N",
            help="keep the first N plays of a session (default: %(default)s)",
        )
        parser.add_argument(
            "--top-items",
            type=int,
            default=40_000,
            metavar="N",
            help="keep the N most played artists (default: %(default)s)",
        )
        parser.add_argument(
            "--test-fraction",
            type=open_fraction,
            default=0.2,
            metavar="F",
            help="the last F of the sessions by end time are test (default: %(default)s)",
        )
        add_filter_arguments(parser, min_session_length=2, min_item_support=5)

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        specs = [
            ColumnSpec("user", "userid", "str_id", nullable=True),
            ColumnSpec("time", "timestamp", "time", time_format="iso", nullable=True),
            ColumnSpec("item", "artid", "str_id", nullable=True),
        ]
        text = TextOptions(
            delimiter=self.delimiter(args),
            header=False,
            column_names=LASTFM_COLUMNS,
            skip_bad_rows=args.skip_bad_rows,
        )
        result = read_log(paths, specs, text)
        raw_rows, skipped_rows = result.rows, result.skipped_rows
        user, item, time = (result.columns.pop(k) for k in ("user", "item", "time"))
        item_values = item.values
        complete = (user.codes >= 0) & (item.codes >= 0) & ~np.isnan(time)
        users = rerank(user.codes[complete])
        del user  # free each raw column as soon as its complete rows are taken
        items = item.codes[complete]
        del item
        time = time[complete]
        del complete
        perm, session = sessionize_by_gap(users, time, args.session_gap)
        del users
        items = items[perm]
        time = time[perm]
        del perm
        kept = counts_of(session, items)
        report.record_read(
            kept,
            raw_rows=raw_rows,
            rows_missing_user_time_or_artist=raw_rows - kept.rows,
            skipped_rows=skipped_rows,
        )
        return ClickLog(
            session=session,
            item=items,
            time=time,
            item_values=item_values,
            num_sessions=int(session[-1]) + 1 if len(session) else 0,
        )

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        return PipelineConfig(
            remove_immediate_repeats=True,
            truncate_length=args.truncate_session_length,
            top_items=args.top_items,
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            iterate_filters=True,
            session_time="end",
            test_fraction=args.test_fraction,
            item_order="rows",
        )
