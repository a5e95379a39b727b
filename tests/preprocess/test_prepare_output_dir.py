"""``--output``: an empty directory is a fine destination, an existing dataset is replaced only
with ``--overwrite``, and a failed prepare leaves nothing that was not there before (issue 11
item 13, issue 12 item 9)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from datamodules.preprocess import gcegnn_export
from datamodules.preprocess.cli import prepare_main
from datamodules.processed import read_processed

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--session-column", "s", "--item-column", "i", "--time-column", "t", "--test-days", "1"]
ARGS += ["--min-item-support", "1"]


def make_log(path: Path) -> Path:
    rows = ["s,i,t"]
    for s in range(30):
        rows += [f"{s},{(s + k) % 7},{1_600_000_000 + s * 43200 + 60 * k}" for k in range(3)]
    path.write_text("\n".join(rows) + "\n")
    return path


def run(log: Path, output: Path | str, *extra: str) -> int:
    """The exit code of a quiet ``generic`` prepare of ``log`` into ``output``."""
    argv = ["generic", "--input", str(log), *ARGS, "--output", str(output), "--quiet", *extra]
    return prepare_main(argv)


def test_existing_empty_directory_is_a_fine_destination(tmp_path, capsys):
    log = make_log(tmp_path / "log.csv")
    target = Path(tempfile.mkdtemp(dir=tmp_path))  # as `mktemp -d` makes it: mode 0700
    inode, mode = target.stat().st_ino, target.stat().st_mode
    code = prepare_main(["generic", "--input", str(log), *ARGS, "--output", str(target)])
    assert code == 0, capsys.readouterr().err
    assert read_processed(target).num_items == 7
    # the directory itself is kept (a shell inside it, a mount point, its permissions)
    assert (target.stat().st_ino, target.stat().st_mode) == (inode, mode)
    assert sorted(p.name for p in target.iterdir() if p.name.startswith(".")) == []


def test_output_dot_inside_an_empty_directory(tmp_path):
    log = make_log(tmp_path / "log.csv")
    target = tmp_path / "here"
    target.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "datamodules", "prepare", "generic", "--input", str(log), *ARGS,
         "--output", ".", "--quiet"],
        cwd=target, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert read_processed(target).num_items == 7


def test_existing_dataset_needs_overwrite(tmp_path, capsys):
    log = make_log(tmp_path / "log.csv")
    target = tmp_path / "dataset"
    assert run(log, target) == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    code = prepare_main(
        ["generic", "--input", str(log), *ARGS, "--output", str(target), "--min-item-support", "2"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--overwrite" in err and "already holds a processed dataset" in err
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    code = run(log, target, "--min-item-support", "2", "--overwrite")
    assert code == 0
    assert read_processed(target).metadata["report"]["parameters"]["min_item_support"] == 2


def test_overwrite_removes_files_the_new_output_does_not_have(tmp_path):
    log = make_log(tmp_path / "log.csv")
    target = tmp_path / "dataset"
    assert run(log, target, "--format", "gcegnn") == 0
    assert (target / "all_train_seq.txt").is_file()
    assert run(log, target, "--overwrite") == 0
    assert not (target / "all_train_seq.txt").exists()
    assert sorted(p.name for p in target.iterdir()) == [
        "dataset.json", "report.json", "test_sessions.npz", "train_sessions.npz",
        "vocabulary.json",
    ]  # fmt: skip


def test_overwrite_never_touches_other_directories(tmp_path, capsys):
    log = make_log(tmp_path / "log.csv")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        code = run(log, precious, *extra)
        assert code == 2 and "not a processed dataset" in capsys.readouterr().err
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert run(log, afile, "--overwrite") == 2
    assert afile.read_text() == "x"


def test_bad_input_leaves_no_new_directory(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("s,i,t\n1,x,1600000000\n")
    target = tmp_path / "new" / "deeper" / "dataset"
    assert run(bad, target) == 2
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(bad, empty) == 2
    assert empty.is_dir() and not list(empty.iterdir())


def _failing_second_pickle(monkeypatch):
    calls = []
    real_dump = pickle.dump

    def failing_dump(obj, handle, protocol=None):
        calls.append(handle.name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real_dump(obj, handle, protocol=protocol)

    monkeypatch.setattr(gcegnn_export.pickle, "dump", failing_dump)
    return calls


def test_failure_while_writing_a_new_directory_removes_the_parents_it_made(
    tmp_path, monkeypatch, capsys
):
    log = make_log(tmp_path / "log.csv")
    calls = _failing_second_pickle(monkeypatch)
    target = tmp_path / "new" / "deeper" / "dataset"
    code = run(log, target, "--format", "gcegnn")
    err = capsys.readouterr().err
    assert code == 2 and "disk full (simulated)" in err and "nothing was written" in err
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]


def test_failure_while_writing_into_an_empty_directory_leaves_it_empty(
    tmp_path, monkeypatch, capsys
):
    log = make_log(tmp_path / "log.csv")
    _failing_second_pickle(monkeypatch)
    target = tmp_path / "empty"
    target.mkdir()
    code = run(log, target, "--format", "gcegnn")
    assert code == 2, capsys.readouterr().err
    assert target.is_dir() and list(target.iterdir()) == []


def test_failure_while_overwriting_keeps_the_previous_dataset(tmp_path, monkeypatch):
    log = make_log(tmp_path / "log.csv")
    target = tmp_path / "dataset"
    assert run(log, target) == 0
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    _failing_second_pickle(monkeypatch)
    code = run(log, target, "--format", "gcegnn", "--overwrite", "--min-item-support", "2")
    assert code == 2
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before


@pytest.mark.parametrize("name", ["dataset.json", "report.json"])
def test_no_staging_left_after_success(tmp_path, name):
    log = make_log(tmp_path / "log.csv")
    target = tmp_path / "dataset"
    assert run(log, target) == 0
    assert run(log, target, "--overwrite") == 0
    assert (target / name).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "log.csv"]
    assert not [p for p in target.iterdir() if p.name.startswith(".")]
