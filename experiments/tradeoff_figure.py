"""The accuracy-against-diversity figure of a results table: HR@20 against Cov@20 per model.

The paper argues that multi-interest models trade accuracy for coverage differently; this puts
every cell of a table on one scatter plot (x: Cov@20, the share of the catalogue that appears
in some top-20 list; y: HR@20), labelled with the cell's name. Needs matplotlib (the
``notebooks`` or ``dev`` extra); the figure is written with the non-interactive Agg backend.
"""

from __future__ import annotations

from pathlib import Path

from run_grid import RunResult


def write_tradeoff_figure(results: list[RunResult], path: str | Path, title: str) -> Path:
    """Scatter HR@20 against Cov@20 for every result that has metrics; returns the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise SystemExit("--figure needs matplotlib: pip install -e '.[notebooks]'") from error
    points = [r for r in results if r.metrics]
    if not points:
        raise SystemExit("--figure: no cell has test metrics to plot")
    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    placed: list[tuple[float, float]] = []
    for result in sorted(points, key=lambda r: -r.metrics["HR@20"]):
        x, y = result.metrics["Cov@20"], result.metrics["HR@20"]
        axes.scatter([x], [y], s=30)
        # Nearby points' labels would overprint: move this one down a line per crowding label.
        crowded = sum(1 for px, py in placed if abs(px - x) < 12 and abs(py - y) < 1.5)
        placed.append((x, y))
        axes.annotate(
            result.name, (x, y), textcoords="offset points", xytext=(4, 3 - 9 * crowded), fontsize=7
        )
    axes.set_xlabel("Cov@20 (% of the catalogue in some top-20 list)")
    axes.set_ylabel("HR@20 (%)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
