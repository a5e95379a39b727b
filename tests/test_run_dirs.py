"""Where a ``dmi-gnn`` command writes and which checkpoint it reads (``dmi_gnn.run_dirs``)."""

from __future__ import annotations

import pytest

from dmi_gnn.errors import CheckpointError, RunDirectoryError
from dmi_gnn.run_dirs import INHERITED_RUN_DIR, new_run_directory, plan_run


@pytest.fixture(autouse=True)
def _no_launcher(monkeypatch):
    for name in (INHERITED_RUN_DIR, "LOCAL_RANK", "RANK", "NODE_RANK", "GROUP_RANK"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SLURM_PROCID", "SLURM_NODEID"):
        monkeypatch.delenv(name, raising=False)


def make_run(root, name, *checkpoints):
    run = root / name
    (run / "checkpoints").mkdir(parents=True)
    for checkpoint in checkpoints:
        (run / "checkpoints" / checkpoint).write_bytes(b"x")
    return run


def test_each_fresh_run_gets_the_next_version(tmp_path):
    first = plan_run("fit", tmp_path)
    second = plan_run("fit", tmp_path)
    assert (first.run_dir.name, second.run_dir.name) == ("version_0", "version_1")
    assert first.created and not first.resumed and first.ckpt_path is None
    (tmp_path / "version_7").mkdir()
    (tmp_path / "version_x").mkdir()  # not a run directory
    assert new_run_directory(tmp_path).name == "version_8"


def test_last_resumes_the_newest_run_that_has_a_last_checkpoint(tmp_path):
    make_run(tmp_path, "version_0", "last.ckpt")
    newest = make_run(tmp_path, "version_3", "best-epoch01.ckpt", "last.ckpt")
    make_run(tmp_path, "version_4")  # killed before its first checkpoint
    make_run(tmp_path, "version_10", "best-epoch00.ckpt")
    plan = plan_run("fit", tmp_path, "last")
    assert plan.run_dir == newest and plan.ckpt_path == newest / "checkpoints" / "last.ckpt"
    assert plan.resumed and not plan.created
    assert plan.describe("fit") == f"resuming the run in {newest} from {plan.ckpt_path}"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "version_0",
        "version_10",
        "version_3",
        "version_4",
    ]


def test_last_without_any_is_an_error_listing_the_runs(tmp_path):
    make_run(tmp_path, "version_0")
    make_run(tmp_path, "version_1", "best-epoch00.ckpt")
    with pytest.raises(CheckpointError) as error:
        plan_run("fit", tmp_path, "last")
    message = str(error.value)
    assert "version_0 (no checkpoints), version_1 (no last.ckpt)" in message
    with pytest.raises(CheckpointError, match="holds no run directory"):
        plan_run("fit", tmp_path / "nothing", "last")


def test_a_checkpoint_file_or_run_directory_names_its_run(tmp_path):
    run = make_run(tmp_path, "version_2", "best-epoch05.ckpt", "last.ckpt")
    best = run / "checkpoints" / "best-epoch05.ckpt"
    assert plan_run("fit", tmp_path / "elsewhere", str(best)).run_dir == run
    assert plan_run("fit", tmp_path, str(run)).ckpt_path == run / "checkpoints" / "last.ckpt"
    evaluation = plan_run("test", tmp_path / "elsewhere", str(best))
    assert evaluation.run_dir == run and not evaluation.resumed and not evaluation.created
    given = plan_run("test", tmp_path, str(best), tmp_path / "out")
    assert given.run_dir == tmp_path / "out" and given.created
    with pytest.raises(CheckpointError, match=r"no such file.*best-epoch05\.ckpt"):
        plan_run("test", tmp_path, str(run / "checkpoints" / "best-epoch04.ckpt"))


def test_fit_from_another_runs_checkpoint_into_a_new_run_dir(tmp_path):
    run = make_run(tmp_path, "version_0", "last.ckpt")
    plan = plan_run("fit", tmp_path, str(run / "checkpoints" / "last.ckpt"), tmp_path / "finetune")
    assert plan.run_dir == tmp_path / "finetune" and not plan.resumed


def test_run_dir_must_be_new_or_empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan_run("fit", tmp_path, run_dir=empty).run_dir == empty
    used = make_run(tmp_path, "used", "last.ckpt")
    with pytest.raises(RunDirectoryError, match="already holds another run's files"):
        plan_run("fit", tmp_path, run_dir=used)


def test_processes_of_one_run_share_its_directory(tmp_path, monkeypatch):
    run = make_run(tmp_path, "version_0", "last.ckpt")
    monkeypatch.setenv(INHERITED_RUN_DIR, str(run))
    assert plan_run("fit", tmp_path).run_dir == run  # a DDP process started by the run
    assert plan_run("fit", tmp_path, "last").ckpt_path == run / "checkpoints" / "last.ckpt"
    monkeypatch.delenv(INHERITED_RUN_DIR)
    monkeypatch.setenv("RANK", "1")  # torchrun: every process must be told where to write
    with pytest.raises(RunDirectoryError, match="pass the same --run_dir"):
        plan_run("fit", tmp_path)
    assert plan_run("fit", tmp_path, run_dir=run).run_dir == run  # rank 0 checked it
