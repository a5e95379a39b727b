"""What a recipe is: a reader for one raw format plus the pipeline parameters of a paper."""

from __future__ import annotations

import abc
import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datamodules.preprocess.clicks import ClickLog, Counts
from datamodules.preprocess.pipeline import PipelineConfig
from datamodules.preprocess.report import Report

DAY = 86400.0


class Recipe(abc.ABC):
    """A named preparation: ``load`` reads the raw files, ``config`` sets the pipeline.

    Attributes:
        name: The CLI name (``dmi-gnn prepare NAME``).
        summary: One line for ``--help``.
        source: Where the recipe comes from (paper code, file and its exact semantics).
        raw_format: The expected input file(s).
        default_delimiter: Delimiter used unless ``--delimiter`` is given (None: detect).
    """

    name: str
    summary: str
    source: str
    raw_format: str
    default_delimiter: str | None = None

    @abc.abstractmethod
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the recipe's own options (defaults are the published values)."""

    @abc.abstractmethod
    def load(self, paths: Sequence[Path], args: argparse.Namespace, report: Report) -> ClickLog:
        """Read the raw files into a click log, recording any reader-level steps."""

    @abc.abstractmethod
    def config(self, args: argparse.Namespace) -> PipelineConfig:
        """The pipeline parameters for these options."""

    def dataset_name(self, args: argparse.Namespace) -> str:
        """Name stored in ``dataset.json`` unless ``--name`` is given."""
        return self.name

    def delimiter(self, args: argparse.Namespace) -> str | None:
        """The delimiter to read with: ``--delimiter`` or the recipe's default."""
        return args.delimiter if args.delimiter is not None else self.default_delimiter


def positive_number(text: str) -> float:
    """``argparse`` type of durations and windows: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """``argparse`` type of fractions: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:  # also False for NaN
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text!r}")
    return value


def add_filter_arguments(
    parser: argparse.ArgumentParser,
    *,
    min_session_length: int,
    min_item_support: int,
    max_session_length: int | None = None,
) -> None:
    """The length/support options shared by recipes (defaults = the recipe's values)."""
    parser.add_argument(
        "--min-session-length",
        type=int,
        default=min_session_length,
        metavar="N",
        help="drop sessions shorter than N, before and after the support filter "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--min-item-support",
        type=int,
        default=min_item_support,
        metavar="N",
        help="drop items with fewer than N clicks (default: %(default)s)",
    )
    if max_session_length is not None:
        parser.add_argument(
            "--max-session-length",
            type=int,
            default=max_session_length,
            metavar="N",
            help="drop sessions longer than N after the support filter (default: %(default)s)",
        )


def counts_of(session: np.ndarray, item: np.ndarray) -> Counts:
    """Counts of a table given as code arrays (negative codes = missing, not counted)."""

    def distinct(codes: np.ndarray) -> int:
        codes = codes[codes >= 0]
        return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0

    return Counts(rows=len(session), sessions=distinct(session), items=distinct(item))


def rerank(codes: np.ndarray) -> np.ndarray:
    """Renumber codes ``0..k-1`` by first appearance (LESSR's ``pd.factorize``)."""
    encoded = pc.dictionary_encode(pa.array(codes))
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
