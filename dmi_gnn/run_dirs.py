"""Run directories: every run of ``dmi-gnn`` writes into a folder of its own.

``--trainer.default_root_dir`` names an *experiment folder*; each fresh run gets a new
numbered run directory inside it, so two runs never mix their files::

    runs/quickstart/              the experiment folder
        version_0/                one run: config.yaml, metrics.csv, hparams.yaml,
            checkpoints/          best-epochNN.ckpt (or epochNN.ckpt) and last.ckpt
        version_1/                the next fresh run

:func:`plan_run` decides where a command writes and which checkpoint it reads:

* ``fit`` without ``--ckpt_path``: a new ``version_N`` (N = highest existing + 1);
* ``fit --ckpt_path last``: the newest run of the experiment folder that has
  ``checkpoints/last.ckpt`` (none: an error); ``--ckpt_path FILE`` or a run directory: that run;
* ``validate|test|predict --ckpt_path ...``: the checkpoint's own run directory;
* ``--run_dir DIR`` (any subcommand): exactly ``DIR``, which a new run needs new or empty.

Pure standard library (no torch), so the experiment scripts and the fast paths of the command
line can use it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dmi_gnn.errors import CheckpointError, RunDirectoryError

#: The experiment folder of a run whose command line and configs name none.
DEFAULT_ROOT = "runs/default"
VERSION_PREFIX = "version_"
CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
#: Set by a run for the processes it launches (DDP): they join its run directory.
INHERITED_RUN_DIR = "DMI_GNN_RUN_DIR"
_VERSION = re.compile(rf"^{VERSION_PREFIX}(\d+)$")
#: Environment variables that give a non-zero rank to a process started by a launcher.
_RANK_VARIABLES = ("LOCAL_RANK", "RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID", "SLURM_NODEID")


@dataclass(frozen=True)
class RunPlan:
    """Where one command writes and what it reads.

    Attributes:
        run_dir: the run directory (exists once the plan is made).
        ckpt_path: the checkpoint file to load, or None.
        resumed: ``fit`` continues the run of ``ckpt_path`` (same directory).
        created: the run directory was made for this command.
        made: the topmost directory this command made (the run directory or a parent of it,
            e.g. a new experiment folder); a failed command removes it again if it is empty.
    """

    run_dir: Path
    ckpt_path: Path | None
    resumed: bool
    created: bool
    made: Path | None = None

    def describe(self, subcommand: str) -> str:
        """One line for the log: which directory, and which checkpoint if any."""
        if self.resumed:
            return f"resuming the run in {self.run_dir} from {self.ckpt_path}"
        if self.ckpt_path is not None:
            return f"{subcommand}: checkpoint {self.ckpt_path}, writing into {self.run_dir}"
        return f"run directory: {self.run_dir}"


def versions(root: Path) -> list[tuple[int, Path]]:
    """The numbered run directories ``version_N`` of an experiment folder, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _VERSION.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def next_run_directory(root: Path) -> Path:
    """The directory :func:`new_run_directory` would create now (nothing is created)."""
    existing = versions(root)
    number = existing[-1][0] + 1 if existing else 0
    return root / f"{VERSION_PREFIX}{number}"


def first_missing(path: Path) -> Path | None:
    """The topmost directory that ``path.mkdir(parents=True)`` would create, or None."""
    missing = None
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing = directory
    return missing


def remove_empty_directories(run_dir: Path, made: Path | None) -> None:
    """After a failed command: remove ``run_dir`` and its parents up to ``made``, while empty.

    Only directories this command made are candidates; one that holds anything stays.
    """
    if made is None:
        return
    for directory in (run_dir, *run_dir.parents):
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (or gone): leave it and everything above
        if directory == made:
            return


def new_run_directory(root: Path) -> Path:
    """Create and return the next ``version_N`` of ``root`` (safe against concurrent runs)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunDirectoryError(
            f"cannot create the experiment folder {root} ({error.strerror}); "
            "choose a writable --trainer.default_root_dir"
        ) from error
    while True:
        candidate = next_run_directory(root)
        try:
            candidate.mkdir()
        except FileExistsError:
            continue  # another run took this number first
        return candidate


def run_directory_of(checkpoint: Path) -> Path:
    """The run directory a checkpoint belongs to (``<run>/checkpoints/x.ckpt`` -> ``<run>``)."""
    parent = checkpoint.parent
    return parent.parent if parent.name == CHECKPOINTS else parent


def checkpoints_of(run_dir: Path) -> list[Path]:
    """The ``*.ckpt`` files of a run, sorted by name."""
    folder = run_dir / CHECKPOINTS
    return sorted(folder.glob("*.ckpt")) if folder.is_dir() else []


def describe_checkpoints(paths: list[Path]) -> str:
    """``name (size)`` of each checkpoint, or ``none``."""
    if not paths:
        return "none"
    return ", ".join(f"{path} ({_size(path)})" for path in paths)


def _size(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        return "unreadable"
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


def latest_resumable(root: Path) -> Path | None:
    """The newest run of ``root`` with a ``last.ckpt`` (``root`` itself counts, oldest)."""
    for _, run_dir in reversed(versions(root)):
        if (run_dir / CHECKPOINTS / LAST).is_file():
            return run_dir
    if (root / CHECKPOINTS / LAST).is_file():  # a run directory of dmi-gnn < 0.2
        return root
    return None


def _describe_runs(root: Path) -> str:
    runs = versions(root)
    if not runs:
        return f"{root} holds no run directory"
    shown = ", ".join(
        f"{path.name} ({'no checkpoints' if not checkpoints_of(path) else 'no last.ckpt'})"
        for _, path in runs[-5:]
    )
    return f"runs there: {shown}"


def _same_directory(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def secondary_process() -> bool:
    """Whether a launcher (DDP, torchrun, SLURM) gave this process a non-zero rank."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name, "0")
        if value.isdigit() and int(value) > 0:
            return True
    return False


def _require_new_or_empty(run_dir: Path) -> bool:
    """Create ``run_dir`` if needed; refuse a non-empty one. Returns True if it was created."""
    if run_dir.exists():
        if not run_dir.is_dir():
            raise RunDirectoryError(f"--run_dir {run_dir} is a file, not a directory")
        if any(run_dir.iterdir()):
            raise RunDirectoryError(
                f"--run_dir {run_dir} already holds another run's files; give a new or empty "
                "directory, or resume that run with --ckpt_path "
                f"{run_dir / CHECKPOINTS / LAST}"
            )
        return False
    try:
        run_dir.mkdir(parents=True)
    except OSError as error:
        raise RunDirectoryError(f"cannot create --run_dir {run_dir} ({error.strerror})") from error
    return True


def resolve_checkpoint(ckpt_path: str, root: Path, run_dir: Path | None) -> Path:
    """The checkpoint file named by ``--ckpt_path`` (``last``, a file or a run directory).

    Raises:
        CheckpointError: nothing to load there; the message lists what there is.
    """
    if ckpt_path == "last":
        run = run_dir if run_dir is not None else latest_resumable(root)
        if run is None or not (run / CHECKPOINTS / LAST).is_file():
            where = f"the run {run_dir}" if run_dir is not None else f"no run under {root}"
            listing = (
                f"its checkpoints: {describe_checkpoints(checkpoints_of(run_dir))}"
                if run_dir is not None
                else _describe_runs(root)
            )
            raise CheckpointError(
                f"--ckpt_path last: {where} has {CHECKPOINTS}/{LAST} ({listing}); start a new "
                "run without --ckpt_path, or pass a checkpoint file"
            )
        return run / CHECKPOINTS / LAST
    path = Path(ckpt_path)
    if path.is_dir():
        for candidate in (path / CHECKPOINTS / LAST, path / LAST):
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"--ckpt_path {path} is a directory without {CHECKPOINTS}/{LAST} (checkpoints "
            f"there: {describe_checkpoints(checkpoints_of(run_directory_of(path / LAST)))}); "
            "pass one of the files"
        )
    if not path.is_file():
        others = checkpoints_of(run_directory_of(path))
        hint = (
            f"checkpoints of that run: {describe_checkpoints(others)}"
            if others
            else "give a checkpoint file, a run directory, or `last`"
        )
        raise CheckpointError(f"--ckpt_path {path}: no such file ({hint})")
    return path


def plan_run(
    subcommand: str,
    root: str | os.PathLike,
    ckpt_path: str | None = None,
    run_dir: str | os.PathLike | None = None,
) -> RunPlan:
    """Decide the run directory and the checkpoint of one ``dmi-gnn`` command (module docs).

    Args:
        subcommand: ``fit``, ``validate``, ``test`` or ``predict``.
        root: the experiment folder (``--trainer.default_root_dir``).
        ckpt_path: ``--ckpt_path`` as given (``last``, a file, a run directory) or None.
        run_dir: ``--run_dir`` as given, or None.

    Raises:
        RunDirectoryError: the run directory cannot be used.
        CheckpointError: ``ckpt_path`` names nothing loadable.
    """
    root = Path(root)
    explicit = Path(run_dir) if run_dir is not None else None
    inherited = os.environ.get(INHERITED_RUN_DIR)
    if inherited:  # a process launched by a run (DDP): join it, create nothing
        explicit = Path(inherited)
    checkpoint = None
    if ckpt_path:
        checkpoint = resolve_checkpoint(ckpt_path, root, explicit if ckpt_path == "last" else None)
        own = run_directory_of(checkpoint)
        target = explicit or own
        same = _same_directory(target, own)
        if inherited or same or subcommand != "fit":
            made = first_missing(target)
            target.mkdir(parents=True, exist_ok=True)
            resumed = subcommand == "fit" and same
            return RunPlan(target, checkpoint, resumed, made is not None, made)
        # fit from a checkpoint of another run into a new --run_dir: falls through
    if inherited:
        return RunPlan(explicit, checkpoint, resumed=False, created=False)
    if explicit is not None:
        if secondary_process():  # the rank-0 process checks and creates it
            explicit.mkdir(parents=True, exist_ok=True)
            return RunPlan(explicit, checkpoint, resumed=False, created=False)
        made = first_missing(explicit)
        created = _require_new_or_empty(explicit)
        return RunPlan(explicit, checkpoint, False, created, made if created else None)
    if secondary_process():
        raise RunDirectoryError(
            "this process was started by a launcher with a non-zero rank (torchrun, SLURM, "
            "multi-node): pass the same --run_dir to every process so they share one run "
            "directory"
        )
    made = first_missing(root)
    run_dir = new_run_directory(root)
    return RunPlan(run_dir, checkpoint, resumed=False, created=True, made=made or run_dir)
