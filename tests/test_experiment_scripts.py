"""experiments/paper_tables.py, experiments/sweep.py and their shared run helpers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from dmi_gnn import run_dirs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

import paper_tables  # noqa: E402
import run_grid  # noqa: E402
import sweep  # noqa: E402

HEADER = "epoch,step,train/loss,val/MRR@20,test/HR@20,test/MRR@20,test/NDCG@20,test/Cov@20\n"


def test_sweep_files_expand_to_the_paper_grids():
    sizes = {"beta": 4, "num_interests": 4, "eta": 6}
    for name, size in sizes.items():
        spec = yaml.safe_load((ROOT / "experiments" / "sweeps" / f"{name}.yaml").read_text())
        points = sweep.grid(spec)
        assert len(points) == size
        assert spec["command"][-1] == "${args}"
    spec = yaml.safe_load((ROOT / "experiments" / "sweeps" / "eta.yaml").read_text())
    assert [p["model.eta"] for p in sweep.grid(spec)] == [8, 10, 12, 14, 16, 18]


def test_local_sweep_drops_or_keeps_wandb_offline():
    spec = yaml.safe_load((ROOT / "experiments" / "sweeps" / "beta.yaml").read_text())
    assert sweep.base_arguments(spec, keep_wandb=False) == ["--config", "experiments/tmall.yaml"]
    assert sweep.base_arguments(spec, keep_wandb=True) == [
        "--config",
        "experiments/tmall.yaml",
        "--config",
        "experiments/logger/wandb.yaml",
    ]


def test_table3_has_every_ablation_with_its_overlay():
    cells = paper_tables.cells("table3", ["tmall"], ["validation"])
    assert len(cells) == len(paper_tables.ABLATIONS) == 6
    for _, args in cells[1:]:
        overlay = args[args.index("--config", 2) + 1]
        assert (ROOT / overlay).is_file()
    reproduction = paper_tables.cells("reproduction", ["tmall"], ["validation", "paper"])
    assert len(reproduction) == 4


def test_summaries_label_the_protocols(tmp_path):
    validation = tmp_path / "validation"
    validation.mkdir()
    (validation / "metrics.csv").write_text(
        HEADER + "0,9,5.0,0.1,,,,\n1,19,4.0,0.2,,,,\n1,19,,,0.4,0.2,0.25,0.9\n"
    )
    result = run_grid.summarize("v", ["dmi-gnn"], validation, 1.0, 0, "validation")
    assert result.metrics["HR@20"] == pytest.approx(40.0) and result.epochs == 2
    assert result.best_over_epochs == {} and "val/MRR@20" in result.selection
    assert not result.failed
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "metrics.csv").write_text(
        HEADER + "0,9,5.0,,0.39,0.18,0.2,0.94\n1,19,4.0,,0.38,0.19,0.21,0.87\n"
    )
    result = run_grid.summarize("p", ["dmi-gnn"], paper, 1.0, 0, "paper")
    assert result.metrics["Cov@20"] == pytest.approx(87.0)  # the last epoch
    assert result.best_over_epochs["HR@20"] == pytest.approx(39.0)  # best of each metric
    assert result.best_over_epochs["MRR@20"] == pytest.approx(19.0)
    assert "TEST-SELECTED" in result.selection
    table = run_grid.markdown_table([result], "t")
    assert "`dmi-gnn`" in table and "39.00 / 19.00 / 94.00" in table


def test_short_epochs_are_counted(tmp_path):
    """Issues 11.6 and 12.10: runs of 2 short epochs (no train/loss row) showed 0 epochs."""
    refit = tmp_path / "refit"
    (refit / "checkpoints").mkdir(parents=True)
    (refit / "metrics.csv").write_text(HEADER + "2,6,,,0.4,0.2,0.25,0.9\n")
    torch.save({"epoch": 1, "state_dict": {}}, refit / "checkpoints" / "last.ckpt")
    result = run_grid.summarize("r", ["dmi-gnn"], refit, 1.0, 0, "refit")
    assert result.epochs == 2
    assert "TEST-SELECTED" not in result.selection and "evaluated once" in result.selection
    assert result.best_over_epochs == {}
    no_checkpoint = tmp_path / "sweep-point"
    no_checkpoint.mkdir()
    (no_checkpoint / "metrics.csv").write_text(
        HEADER + "0,2,,0.1,,,,\n1,5,,0.2,,,,\n1,5,,,0.4,0.2,0.25,0.9\n"
    )
    assert run_grid.summarize("s", ["dmi-gnn"], no_checkpoint, 1.0, 0).epochs == 2


class FakeDmiGnn:
    """Stands in for ``python -m dmi_gnn fit ...``: writes what such a run writes.

    Validation runs choose the epochs in ``best_epochs`` (one per call) and early-stop one
    epoch later; refits (``--data.val_fraction=0``) train ``--trainer.max_epochs`` short epochs
    (no train/loss row); paper-protocol runs test after each of 2 epochs. With
    ``--trainer.default_root_dir`` (no ``--run_dir``) it writes into a new ``version_N`` there,
    as ``dmi-gnn fit`` does; relative paths are relative to ``cwd``.
    """

    def __init__(self, best_epochs=(), write_checkpoints=True, write_metrics=True):
        self.best_epochs = list(best_epochs)
        self.write_checkpoints = write_checkpoints
        self.write_metrics = write_metrics
        self.commands = []

    def __call__(self, command, cwd):
        args = command[3:]
        self.commands.append(args)
        flags = dict(arg.split("=", 1) for arg in args if arg.startswith("--") and "=" in arg)
        if "--run_dir" in flags:
            run_dir = Path(cwd) / flags["--run_dir"]
        else:
            run_dir = run_dirs.new_run_directory(Path(cwd) / flags["--trainer.default_root_dir"])
        checkpoints = run_dir / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        test = "0.4,0.2,0.25,0.9"
        if flags.get("--data.protocol") == "paper":
            rows, last_epoch, best = [f"0,9,,,{test}", f"1,19,,,{test}"], 1, None
        elif flags.get("--data.val_fraction") == "0":
            last_epoch = int(flags["--trainer.max_epochs"]) - 1
            rows, best = [f"{last_epoch + 1},30,,,{test}"], None
        else:
            best = self.best_epochs.pop(0)
            last_epoch = best + 1
            rows = [f"{e},{10 * e},4.0,0.{e + 1},,,," for e in range(last_epoch + 1)]
            rows.append(f"{last_epoch},{10 * last_epoch},,,{test}")
        if self.write_metrics:
            (run_dir / "metrics.csv").write_text(HEADER + "\n".join(rows) + "\n")
        if not self.write_checkpoints:
            return 0
        state = {"epoch": last_epoch, "state_dict": {}, "callbacks": {}}
        if best is not None:
            best_path = checkpoints / f"best-epoch{best:02d}.ckpt"
            torch.save({"epoch": best, "state_dict": {}}, best_path)
            state["callbacks"]["ModelCheckpoint{'monitor': 'val/MRR@20'}"] = {
                "best_model_path": str(best_path)
            }
        torch.save(state, checkpoints / "last.ckpt")
        return 0


def table_rows(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text().splitlines() if line.startswith("| quickstart")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The scripts run from a directory that is not the repository (its root is faked)."""
    fake_root = tmp_path / "repository"
    fake_root.mkdir()
    monkeypatch.setattr(run_grid, "ROOT", fake_root)
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def refit_table(output: str) -> list[str]:
    return [
        "table2",
        "--dataset=quickstart",
        "--protocol=validation",
        "--refit",
        "--runs-dir=runs",
        f"--output={output}",
    ]


def test_tables_from_another_directory_read_the_runs_they_wrote(elsewhere, monkeypatch):
    """Issue 11.6: runs went under the repository, results were read from the cwd: all "–"."""
    fake = FakeDmiGnn(best_epochs=[3])
    monkeypatch.setattr(run_grid.subprocess, "call", fake)
    assert paper_tables.main(refit_table("table.md")) == 0
    validation, refit = table_rows(elsewhere / "table.md")
    assert validation[1:5] == ["40.00", "20.00", "25.00", "90.00"]
    assert refit[1:5] == ["40.00", "20.00", "25.00", "90.00"]
    cells = elsewhere / "runs" / "table2" / "version_0"
    assert sorted(path.name for path in cells.iterdir()) == ["00", "00-refit"]
    assert "--trainer.max_epochs=4" in fake.commands[1]  # best epoch 3 (0-based) -> 4 epochs


def test_a_second_invocation_refits_on_its_own_validation_run(elsewhere, monkeypatch):
    """Issue 11.6: the refit read the previous invocation's last.ckpt."""
    fake = FakeDmiGnn(best_epochs=[3, 0])
    monkeypatch.setattr(run_grid.subprocess, "call", fake)
    assert paper_tables.main(refit_table("first.md")) == 0
    assert paper_tables.main(refit_table("second.md")) == 0
    assert "--trainer.max_epochs=4" in fake.commands[1]
    assert "--trainer.max_epochs=1" in fake.commands[3]  # this invocation chose epoch 0
    assert sorted(p.name for p in (elsewhere / "runs" / "table2").iterdir()) == [
        "version_0",
        "version_1",
    ]


def test_refit_cells_are_labelled_tested_once_with_their_epochs(elsewhere, monkeypatch):
    """Issue 11.6: a refit (tested once) was labelled test-selected; short epochs showed 0."""
    monkeypatch.setattr(run_grid.subprocess, "call", FakeDmiGnn(best_epochs=[2]))
    assert paper_tables.main(refit_table("table.md")) == 0
    validation, refit = table_rows(elsewhere / "table.md")
    assert refit[5] == "–" and "TEST-SELECTED" not in refit[8]
    assert refit[8].startswith("refit on all train") and refit[8].endswith("evaluated once")
    assert (validation[6], refit[6]) == ("4", "3")  # epochs trained


@pytest.mark.parametrize("missing", ["checkpoints", "metrics"])
def test_a_refit_that_cannot_run_or_a_cell_without_results_fails(elsewhere, monkeypatch, missing):
    """Issue 11.6: the refit was skipped (and empty cells shown as "–") with exit code 0."""
    fake = FakeDmiGnn(
        best_epochs=[1],
        write_checkpoints=missing != "checkpoints",
        write_metrics=missing != "metrics",
    )
    monkeypatch.setattr(run_grid.subprocess, "call", fake)
    assert paper_tables.main(refit_table("table.md")) == 1
    assert "FAILED" in (elsewhere / "table.md").read_text()


def test_sweep_points_get_their_own_run_directories(elsewhere, monkeypatch):
    fake = FakeDmiGnn(best_epochs=[0, 1, 2, 3])
    monkeypatch.setattr(run_grid.subprocess, "call", fake)
    sweep_file = ROOT / "experiments" / "sweeps" / "beta.yaml"
    assert sweep.main([str(sweep_file), "--runs-dir=runs", "--output=beta.md"]) == 0
    name = yaml.safe_load(sweep_file.read_text())["name"]
    points = elsewhere / "runs" / name / "version_0"
    assert sorted(p.name for p in points.iterdir()) == ["00", "01", "02", "03"]
    rows = (elsewhere / "beta.md").read_text().splitlines()[4:]
    assert [row.split(" | ")[6] for row in rows] == ["2", "3", "4", "5"]


@pytest.mark.slow
def test_every_table3_ablation_runs_from_its_config(tmp_path, monkeypatch):
    """Each Table-3 cell trains, validates and tests (quick-start data, one tiny epoch)."""
    tiny = [
        "--data.synthetic_num_items=100",
        "--data.synthetic_num_train_sessions=150",
        "--data.synthetic_num_test_sessions=30",
        "--data.batch_size=50",
        f"--data.cache_dir={tmp_path / 'cache'}",
        "--model.embedding_dim=8",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
    ]
    output = tmp_path / "table3.md"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the script is run from anywhere
    code = paper_tables.main(
        [
            "table3",
            "--dataset=quickstart",
            "--protocol=validation",
            "--runs-dir=../runs",
            f"--output={output}",
            "--",
            *tiny,
        ]
    )
    assert code == 0
    rows = [line for line in output.read_text().splitlines() if line.startswith("| quickstart")]
    assert len(rows) == 6
    assert all("–" not in row.split("|")[2] for row in rows)  # every cell has a test HR@20


def test_a_table2_figure_plots_every_cell_with_results(elsewhere, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(run_grid.subprocess, "call", FakeDmiGnn(best_epochs=[1]))
    assert paper_tables.main([*refit_table("table.md"), "--figure=fig.png"]) == 0
    assert (elsewhere / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_collect_reads_finished_runs_and_labels_their_protocol(elsewhere, monkeypatch):
    pytest.importorskip("matplotlib")
    fake = FakeDmiGnn(best_epochs=[1])
    monkeypatch.setattr(run_grid.subprocess, "call", fake)
    assert paper_tables.main(refit_table("table.md")) == 0
    cells = elsewhere / "runs" / "table2" / "version_0"
    (cells / "00" / "config.yaml").write_text(
        "data:\n  protocol: validation\n  val_fraction: 0.1\n"
    )
    (cells / "00-refit" / "config.yaml").write_text("data:\n  val_fraction: 0\n")
    runs = [f"--run=quickstart val={cells / '00'}", f"--run=quickstart refit={cells / '00-refit'}"]
    assert paper_tables.main(["collect", *runs, "--output=c.md", "--figure=c.png"]) == 0
    validation, refit = table_rows(elsewhere / "c.md")
    assert validation[1:5] == refit[1:5] == ["40.00", "20.00", "25.00", "90.00"]
    assert validation[8].startswith("checkpoint chosen on val") and refit[8].startswith("refit")
    assert (elsewhere / "c.png").is_file()
    with pytest.raises(SystemExit, match="LABEL=<existing run directory>"):
        paper_tables.main(["collect", "--run=nolabel"])


def test_a_table_writes_its_results_file_and_collect_redraws_from_it(elsewhere, monkeypatch):
    """Issue 15: the figure could only be drawn from cell folders, which do not outlive a run."""
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(run_grid.subprocess, "call", FakeDmiGnn(best_epochs=[1]))
    assert paper_tables.main(refit_table("table.md")) == 0
    written = run_grid.read_results(elsewhere / "table.csv")
    assert [r.metrics for r in written] == [
        {"HR@20": 40.0, "MRR@20": 20.0, "NDCG@20": 25.0, "Cov@20": 90.0}
    ] * 2
    assert written[1].source.endswith("00-refit") and written[1].command[:2] == ["dmi-gnn", "fit"]
    shutil.rmtree(elsewhere / "runs")  # the cell folders are gone; the results file is not
    assert paper_tables.main(["collect", "--results=table.csv", "--output=again.md"]) == 0
    assert table_rows(elsewhere / "again.md") == table_rows(elsewhere / "table.md")
    assert paper_tables.main(["collect", "--results=table.csv", "--figure=f.png"]) == 0
    assert (elsewhere / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("HR@20,", "HR,", 1), "missing column"),
        (lambda text: text.replace("40.0000", "forty", 1), "line 2"),
        (lambda text: text.replace(",20.0000,", ",,", 1), "needs all of"),
    ],
)
def test_a_broken_results_file_is_named_in_the_error(elsewhere, monkeypatch, edit, message):
    monkeypatch.setattr(run_grid.subprocess, "call", FakeDmiGnn(best_epochs=[1]))
    assert paper_tables.main(refit_table("table.md")) == 0
    path = elsewhere / "table.csv"
    path.write_text(edit(path.read_text()))
    with pytest.raises(SystemExit, match=message):
        paper_tables.main(["collect", f"--results={path}"])
    with pytest.raises(SystemExit, match="no such file"):
        paper_tables.main(["collect", "--results=absent.csv"])
