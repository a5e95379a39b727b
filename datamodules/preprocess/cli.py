"""``dmi-gnn prepare RECIPE --input RAW --output DIR``: raw click logs to a processed dataset.

``prepare_main`` is the entry point (``python -m datamodules prepare ...`` and the main CLI's
``dmi-gnn prepare ...`` call it). It returns 0 on success and 2 on bad input, after printing
one located error message; nothing is written unless everything succeeded (see
:mod:`~datamodules.preprocess.output` for the destinations accepted).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.output import REPORT_FILE, check_output, write_output
from datamodules.preprocess.pipeline import run_pipeline
from datamodules.preprocess.recipes import RECIPES, Recipe
from datamodules.preprocess.report import Report
from datamodules.processed import ProcessedDataset

PROG = "dmi-gnn prepare"
_NAMED_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def parse_delimiter(text: str) -> str | None:
    """``--delimiter`` values: one character, ``tab``/``\\t``, ``comma``, ``semicolon``,
    ``pipe``, or ``auto`` (detect)."""
    if text == "auto":
        return None
    text = _NAMED_DELIMITERS.get(text.lower(), text)
    if len(text) != 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not one character (use e.g. ',', ';', tab, pipe or auto)"
        )
    return text


def _describe_default(recipe: Recipe) -> str:
    delimiter = recipe.default_delimiter
    if delimiter is None:
        return "auto"
    return "tab" if delimiter == "\t" else repr(delimiter)


def _add_common(parser: argparse.ArgumentParser, recipe: Recipe) -> None:
    group = parser.add_argument_group("input and output")
    group.add_argument(
        "--input",
        action="append",
        required=True,
        type=Path,
        metavar="PATH",
        help="raw file; repeat to read several files in order",
    )
    group.add_argument(
        "--output",
        required=True,
        type=Path,
        metavar="DIR",
        help="processed dataset directory: new, or an existing empty directory",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the processed dataset already in --output (refused without it)",
    )
    group.add_argument(
        "--format",
        choices=("processed", "gcegnn"),
        default="processed",
        help="gcegnn: also write GCE-GNN pickles all_train_seq.txt, train.txt, test.txt "
        "(default: %(default)s)",
    )
    group.add_argument("--name", help="dataset name stored in dataset.json")
    group.add_argument(
        "--delimiter",
        type=parse_delimiter,
        metavar="CHAR",
        help=f"field delimiter: one character, tab, or auto (default: {_describe_default(recipe)})",
    )
    group.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip rows with a wrong number of fields (counted in the report) instead of failing",
    )
    group.add_argument("--quiet", action="store_true", help="do not print the report")


def _options_line(parser: argparse.ArgumentParser) -> str:
    parts = []
    for action in parser._actions:
        if not action.option_strings or action.dest in {"help", "input", "output"}:
            continue
        if action.dest in {"format", "name", "delimiter", "skip_bad_rows", "quiet", "overwrite"}:
            continue
        option = action.option_strings[-1]
        if action.nargs == 0:
            parts.append(option)
        elif action.default is not None and action.default is not argparse.SUPPRESS:
            parts.append(f"{option} {action.default}")
        else:
            parts.append(f"{option} {action.metavar or action.dest.upper()}")
    return " ".join(parts)


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The argument parser: one sub-command per recipe, each with its documented options."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Prepare a raw click log as a processed session dataset "
        "(train on it with --data.dataset DIR). Writes DIR/dataset.json, the session "
        f"arrays, DIR/{REPORT_FILE} and, with --format gcegnn, GCE-GNN pickles.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    overview = ["recipes and their options (defaults shown; RECIPE --help for details):"]
    for recipe in RECIPES.values():
        sub = commands.add_parser(
            recipe.name,
            help=recipe.summary,
            description="\n".join(
                [
                    recipe.summary.replace("%%", "%"),
                    "",
                    textwrap.fill(
                        recipe.source, 92, initial_indent="source: ", subsequent_indent="  "
                    ),
                    textwrap.fill(
                        recipe.raw_format, 92, initial_indent="input:  ", subsequent_indent="  "
                    ),
                ]
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _add_common(sub, recipe)
        recipe.add_arguments(sub)
        overview.append(f"  {recipe.name:<13}{recipe.summary}")
        overview.append(
            textwrap.fill(
                _options_line(sub), width=98, initial_indent=" " * 15, subsequent_indent=" " * 15
            )
        )
    overview.append(
        "\ncommon options: --input PATH [--input PATH ...] --output DIR [--overwrite] "
        "[--format processed|gcegnn] [--name NAME] [--delimiter CHAR] [--skip-bad-rows] "
        "[--quiet]"
    )
    parser.epilog = "\n".join(overview).replace("%%", "%")
    return parser


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"input", "output", "recipe", "quiet", "overwrite"}
    return {k: v for k, v in vars(args).items() if k not in skip}


def prepare(args: argparse.Namespace) -> tuple[ProcessedDataset, Report]:
    """Run the recipe named by ``args.recipe`` and write the output; return dataset and report.

    Raises:
        PrepareError: Bad input (nothing is written).
    """
    recipe = RECIPES[args.recipe]
    inputs = [Path(p) for p in args.input]
    for path in inputs:
        if not path.is_file():
            raise PrepareError("no such file", path=path)
    check_output(args.output, args.overwrite)
    config = recipe.config(args)
    config.validate()
    report = Report(
        recipe.name, [str(p) for p in inputs], {**_parameters(args), **config.as_dict()}
    )
    log = recipe.load(inputs, args, report)
    dataset = run_pipeline(log, config, report, name=args.name or recipe.dataset_name(args))
    summary = report.to_dict()
    dataset.metadata.update({"recipe": recipe.name, "source": recipe.source, "report": summary})
    write_output(
        dataset, args.output, summary, gcegnn=args.format == "gcegnn", overwrite=args.overwrite
    )
    return dataset, report


def prepare_main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        _, report = prepare(args)
    except PrepareError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(report.format())
        print(f"wrote {args.output}")
    return 0
