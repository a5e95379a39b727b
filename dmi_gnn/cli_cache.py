"""A cache of what the ``dmi-gnn`` subcommand parsers know, so ``--help`` needs no torch.

The options of ``dmi-gnn fit`` come from class signatures (DMIGNN, SessionDataModule, the
Lightning Trainer), so building the parser means importing Lightning (about 6 s). The first
command that builds it stores, per subcommand, the help text, the valid option names and the
options that take a class (whose nested keys are open); later ``dmi-gnn fit --help`` and
unknown-flag errors read it in milliseconds.

The file lives in the user cache directory (``$XDG_CACHE_HOME/dmi-gnn``, ``~/.cache/dmi-gnn``;
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows) under a key made of the installed
versions of dmi-gnn, Lightning, torch, torchmetrics and jsonargparse, the Python version, the
content of this package's and the datamodules' source files, and the terminal width. Anything
that could change the help changes the key; an unwritable cache only costs the speed-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from dmi_gnn import __version__

_PACKAGES = ("lightning", "torch", "torchmetrics", "jsonargparse")
_FORMAT = 1


def user_cache_dir() -> Path:
    """The per-user cache folder of dmi-gnn."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dmi-gnn"


def _sources_digest() -> str:
    digest = hashlib.sha256()
    roots = [Path(__file__).resolve().parent]
    spec = find_spec("datamodules")
    if spec is not None and spec.origin:
        roots.append(Path(spec.origin).resolve().parent)
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key() -> str:
    """16 hex digits identifying everything the cached help depends on."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    identity = {
        "format": _FORMAT,
        "dmi_gnn": __version__,
        "versions": versions,
        "python": sys.version,
        "sources": _sources_digest(),
        "columns": shutil.get_terminal_size().columns,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def cache_file() -> Path:
    """Where the cache for the current installation and terminal width lives."""
    return user_cache_dir() / f"cli-{cache_key()}.json"


def load() -> dict[str, Any] | None:
    """The cached parser facts per subcommand, or None (missing or unreadable)."""
    try:
        with open(cache_file()) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def store(data: dict[str, Any]) -> None:
    """Write the cache atomically; failures are ignored (the cache is only a speed-up)."""
    target = cache_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, target)
    except OSError:
        pass
