"""The one error type of ``dmi-gnn prepare``: bad input, located by file, line and column."""

from __future__ import annotations

import os


class PrepareError(ValueError):
    """A raw log cannot be prepared: the message names the file, line and column at fault.

    Attributes:
        path: The input file at fault, or None for an error not tied to one file.
        line: 1-based line number in ``path`` (the header is line 1), or None.
        column: The column name at fault, or None.
        problem: The bare description, without the location prefix.
    """

    def __init__(
        self,
        problem: str,
        *,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        column: str | None = None,
        row_label: str = "line",
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.problem = problem
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"{row_label} {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)
