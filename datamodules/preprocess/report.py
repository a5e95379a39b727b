"""What preparation did: each filter's removals, the split and the final counts.

The same dictionary is printed, saved as ``report.json`` and stored in ``dataset.json`` under
``"report"``, so a prepared dataset documents its own provenance.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from typing import Any

from datamodules.preprocess.clicks import Counts


def utc_iso(seconds: float | None) -> str | None:
    """``seconds`` since the epoch as an ISO-8601 UTC string (None for None/NaN/out of range)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat().replace("+00:00", "Z")


class Report:
    """Collects the record of one preparation run."""

    def __init__(self, recipe: str, inputs: list[str], parameters: dict[str, Any]) -> None:
        self.recipe = recipe
        self.inputs = inputs
        self.parameters = parameters
        self.read: dict[str, Any] = {}
        self.steps: list[dict[str, Any]] = []
        self.split: dict[str, Any] = {}
        self.final: dict[str, Any] = {}
        self.notes: list[str] = []

    def record_read(self, counts: Counts, **extra: Any) -> None:
        """The raw log as read: rows, sessions, items (and e.g. skipped malformed rows)."""
        self.read = {**asdict(counts), **extra}

    def record_step(
        self, name: str, before: Counts, after: Counts, *, stage: str = "filter", **extra: Any
    ) -> None:
        """One filter: what it removed and what is left.

        ``stage`` is ``"filter"`` (before the split) or ``"after split"``.
        """
        self.steps.append(
            {
                "step": name,
                "stage": stage,
                "rows_removed": before.rows - after.rows,
                "sessions_removed": before.sessions - after.sessions,
                "items_removed": before.items - after.items,
                "rows": after.rows,
                "sessions": after.sessions,
                "items": after.items,
                **extra,
            }
        )

    def note(self, text: str) -> None:
        """A remark printed with the report (e.g. a deviation forced by the input)."""
        self.notes.append(text)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable report."""
        return {
            "recipe": self.recipe,
            "inputs": self.inputs,
            "parameters": self.parameters,
            "read": self.read,
            "steps": self.steps,
            "split": self.split,
            "final": self.final,
            "notes": self.notes,
        }

    def _split_line(self) -> str:
        split = self.split
        shown = {
            k: v for k, v in split.items() if k not in ("method", "train_sessions", "test_sessions")
        }
        desc = ", ".join(f"{k}={v}" for k, v in shown.items())
        return (
            f"  split ({split.get('method')}): {split.get('train_sessions', 0):,} train / "
            f"{split.get('test_sessions', 0):,} test sessions; {desc}"
        )

    def format(self) -> str:
        """A human-readable table of the report."""
        lines = [f"prepare {self.recipe}: {', '.join(self.inputs)}"]
        read = self.read
        lines.append(
            f"  read: {read.get('rows', 0):,} rows, {read.get('sessions', 0):,} sessions, "
            f"{read.get('items', 0):,} items"
            + (
                f" ({read['skipped_rows']:,} malformed rows skipped)"
                if read.get("skipped_rows")
                else ""
            )
        )
        width = max((len(s["step"]) for s in self.steps), default=0)
        header = f"  {'step':<{width}}  {'-rows':>11} {'-sessions':>10} {'-items':>8}  left"
        lines.append(header)
        split = self.split
        split_shown = False
        for s in self.steps:
            if s.get("stage") != "filter" and split and not split_shown:
                lines.append(self._split_line())
                split_shown = True
            lines.append(
                f"  {s['step']:<{width}}  {s['rows_removed']:>11,} {s['sessions_removed']:>10,} "
                f"{s['items_removed']:>8,}  {s['rows']:,} rows / {s['sessions']:,} sessions / "
                f"{s['items']:,} items"
            )
        if split and not split_shown:
            lines.append(self._split_line())
        final = self.final
        if final:
            lines.append(
                f"  final: {final['train_sessions']:,} train sessions, "
                f"{final['test_sessions']:,} test sessions, {final['items']:,} items, "
                f"{final['train_samples']:,} train samples, {final['test_samples']:,} test "
                f"samples (prefixes of length >= {final['min_prefix_length']})"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)
