"""``python -m datamodules prepare RECIPE ...``: the data-preparation command without the CLI."""

from __future__ import annotations

import sys

USAGE = "usage: python -m datamodules prepare RECIPE --input PATH --output DIR [options]"


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``prepare``; anything else prints the usage and returns 2."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "prepare":
        from datamodules.preprocess.cli import prepare_main

        return prepare_main(argv[1:])
    print(USAGE, file=sys.stderr)
    return 0 if argv and argv[0] in ("-h", "--help") else 2


if __name__ == "__main__":
    sys.exit(main())
