"""The user's own click log: any CSV/TSV/Parquet with session or user, item and time columns.

Every option maps onto the shared pipeline (:mod:`datamodules.preprocess.pipeline`), so the
named recipes are expressible here too; for example MTD's RetailRocket filters on an already
sessionised file are ``--min-session-length 3 --test-days 7 --split-boundary drop
--min-prefix-length 2 --support-scope all``. Unlike the published recipes, ``generic`` counts
item support on the training period only unless ``--support-scope all`` is given.
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
    open_fraction,
    positive_number,
    rerank,
)
from datamodules.preprocess.report import Report
from datamodules.preprocess.sessionize import sessionize_by_gap


class Generic(Recipe):
    """A configurable recipe for any click log."""

    name = "generic"
    summary = "your own CSV/TSV/Parquet click log: columns, filters and split as options"
    source = (
        "building blocks of the recipes above; defaults follow SR-GNN (support >= 5, "
        "length >= 2, 7-day test) with session-rec's split boundary (>=)"
    )
    raw_format = "CSV/TSV (delimiter detected or --delimiter) or Parquet (.parquet/.pq)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        columns = parser.add_argument_group("columns")
        columns.add_argument("--session-column", metavar="NAME", help="session id column")
        columns.add_argument(
            "--user-column",
            metavar="NAME",
            help="user id column: sessions are cut from each user's clicks at --session-gap "
            "(used when --session-column is not given)",
        )
        columns.add_argument("--item-column", metavar="NAME", required=True, help="item id column")
        columns.add_argument("--time-column", metavar="NAME", required=True, help="time column")
        columns.add_argument(
            "--time-format",
            default="auto",
            metavar="FMT",
            help="auto (default: numbers are unix seconds, or ms when every value of the column "
            "is at or above 1e11, mixed is an error; text is ISO-8601), "
            "unix, unix_ms, iso, or a strptime pattern such as '%%d/%%m/%%Y %%H:%%M' "
            "(times without zone are UTC)",
        )
        columns.add_argument(
            "--id-type",
            choices=("int", "str"),
            default="int",
            help="session/user/item ids are integers written in ASCII digits (default; "
            "anything else, e.g. +13, -5, 1_000 or 0x10, is an error) or arbitrary strings",
        )
        columns.add_argument("--no-header", action="store_true", help="the file has no header line")
        columns.add_argument(
            "--column-names",
            metavar="A,B,...",
            help="names of all columns of a headerless file, comma-separated",
        )
        steps = parser.add_argument_group("sessions and filters")
        steps.add_argument(
            "--session-gap",
            type=positive_number,
            default=1800.0,
            metavar="SECONDS",
            help="with --user-column: largest pause inside a session (default: %(default)s)",
        )
        steps.add_argument(
            "--remove-immediate-repeats",
            action="store_true",
            help="drop a click on the same item as the previous click of the session",
        )
        steps.add_argument(
            "--truncate-session-length",
            type=int,
            metavar="N",
            help="keep only the first N clicks of each session",
        )
        steps.add_argument(
            "--top-items", type=int, metavar="N", help="keep only the N most clicked items"
        )
        add_filter_arguments(steps, min_session_length=2, min_item_support=5)
        steps.add_argument(
            "--max-session-length",
            type=int,
            metavar="N",
            help="drop sessions longer than N after the support filter",
        )
        steps.add_argument(
            "--support-scope",
            choices=("train", "all"),
            default="train",
            help="which clicks --min-item-support and --top-items count: train (default: only "
            "the training period's, the split is made first, so no test-period click decides "
            "what enters the training vocabulary) or all (the whole log before the split, the "
            "rule of the published recipes)",
        )
        steps.add_argument(
            "--iterate-filters",
            action="store_true",
            help="repeat the length and support filters until nothing changes (LESSR)",
        )
        split = parser.add_argument_group("split and samples")
        which = split.add_mutually_exclusive_group()
        which.add_argument(
            "--test-days",
            type=positive_number,
            metavar="D",
            help="test = sessions ending within D days of the last click (default: 7)",
        )
        which.add_argument(
            "--test-seconds", type=positive_number, metavar="S", help="as --test-days, in seconds"
        )
        which.add_argument(
            "--test-fraction",
            type=open_fraction,
            metavar="F",
            help="test = the last fraction F of the sessions by end time",
        )
        split.add_argument(
            "--split-boundary",
            choices=("test", "drop"),
            default="test",
            help="a session ending exactly at the split time goes to test (default) or is "
            "dropped (SR-GNN, GCE-GNN, MTD)",
        )
        split.add_argument(
            "--min-prefix-length",
            type=int,
            default=1,
            metavar="M",
            help="samples are the prefixes of length >= M (default: %(default)s; "
            "RetailRocket/MTD: 2)",
        )

    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        if not args.session_column and not args.user_column:
            raise PrepareError("give --session-column, or --user-column to cut sessions by time")
        names = None
        if args.column_names:
            names = tuple(n.strip() for n in args.column_names.split(","))
        elif args.no_header:
            raise PrepareError("a file without header needs --column-names")
        id_kind = "int_id" if args.id_type == "int" else "str_id"
        group_key = "session" if args.session_column else "user"
        group_column = args.session_column or args.user_column
        specs = [
            ColumnSpec(group_key, group_column, id_kind, nullable=True),
            ColumnSpec("item", args.item_column, id_kind, nullable=True),
            ColumnSpec(
                "time", args.time_column, "time", time_format=args.time_format, nullable=True
            ),
        ]
        text = TextOptions(
            delimiter=self.delimiter(args),
            header=not args.no_header,
            column_names=names,
            skip_bad_rows=args.skip_bad_rows,
        )
        result = read_log(paths, specs, text)
        group, item, time = (result.columns.pop(k) for k in (group_key, "item", "time"))
        item_values = item.values
        complete = (group.codes >= 0) & (item.codes >= 0) & ~np.isnan(time)
        read_counts = counts_of(group.codes, item.codes) if group_key == "session" else None
        groups = rerank(group.codes[complete])
        del group  # free each raw column as soon as its complete rows are taken
        items = item.codes[complete]
        del item
        time = time[complete]
        missing = result.rows - int(complete.sum())
        del complete
        if group_key == "session":
            log = ClickLog.from_rows(groups, items, time, item_values, order=time)
        else:
            perm, session = sessionize_by_gap(groups, time, args.session_gap)
            del groups
            log = ClickLog(
                session=session,
                item=items[perm],
                time=time[perm],
                item_values=item_values,
                num_sessions=int(session[-1]) + 1 if len(session) else 0,
            )
        del items, time
        report.record_read(
            read_counts or log.counts(),
            skipped_rows=result.skipped_rows,
            time_format=result.time_formats.get("time"),
            **({} if read_counts else {"rows_with_empty_values": missing}),
        )
        if read_counts is not None:
            report.record_step(
                "rows with an empty session, item or time", read_counts, log.counts()
            )
        return log

    def config(self, args: argparse.Namespace) -> PipelineConfig:
        test_seconds = None
        if args.test_fraction is None:
            if args.test_seconds is not None:
                test_seconds = args.test_seconds
            else:
                test_seconds = (7.0 if args.test_days is None else args.test_days) * DAY
        return PipelineConfig(
            remove_immediate_repeats=args.remove_immediate_repeats,
            truncate_length=args.truncate_session_length,
            top_items=args.top_items,
            min_session_length=args.min_session_length,
            min_item_support=args.min_item_support,
            max_session_length=args.max_session_length,
            iterate_filters=args.iterate_filters,
            session_time="end",
            test_seconds=test_seconds,
            test_fraction=args.test_fraction,
            split_boundary=args.split_boundary,
            min_prefix_length=args.min_prefix_length,
            support_scope=args.support_scope,
        )
