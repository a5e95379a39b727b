"""Finding, downloading and checksumming the benchmark files.

Lookup rule for a registered benchmark ``name`` and a file ``F``: ``<data_dir>/F`` first (so
``data_dir`` may point straight at a folder holding the files), then ``<data_dir>/<name>/F``.
A missing file is downloaded to ``<data_dir>/<name>/F``. Every file found or downloaded must
match the registered sha256. A download that fails leaves nothing behind: no partial file and
no folder it created; :func:`locate_all` also removes the files it downloaded before the
failure, so a failed attempt leaves ``data_dir`` as it found it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from datamodules.errors import ChecksumError, DataUnavailableError
from datamodules.registry import Benchmark

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def candidate_paths(benchmark: Benchmark, filename: str, data_dir: str | os.PathLike) -> list[Path]:
    """Where ``filename`` is looked for, in order; the last one is the download destination."""
    root = Path(data_dir)
    return [root / filename, root / benchmark.name / filename]


def verify_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ChecksumError` (expected vs actual, and the path) on a mismatch."""
    actual = sha256_file(path)
    if actual != expected:
        raise ChecksumError(
            f"{path}: sha256 mismatch (expected {expected}, got {actual}); the file is corrupt, "
            "truncated or a different dataset: delete it to download it again"
        )


def locate(
    benchmark: Benchmark, filename: str, data_dir: str | os.PathLike, download: bool
) -> Path:
    """Return the verified local path of a benchmark file, downloading it if allowed.

    Args:
        benchmark: the registered benchmark.
        filename: one of ``benchmark.files``.
        data_dir: folder searched (see the module docstring for the lookup rule).
        download: whether a missing file may be fetched from its pinned URL.

    Raises:
        DataUnavailableError: the benchmark is unavailable, the file is unknown, or it is
            missing and cannot be downloaded (the message names the file, the URL, the
            destination path and the sha256).
        ChecksumError: a local or downloaded file does not match the registered sha256.
    """
    benchmark.require_available()
    if filename not in benchmark.files:
        raise DataUnavailableError(
            f"dataset {benchmark.name!r} has no file {filename!r}; "
            f"its files are {sorted(benchmark.files)}"
        )
    remote = benchmark.files[filename]
    candidates = candidate_paths(benchmark, filename, data_dir)
    for path in candidates:
        if path.is_file():
            verify_sha256(path, remote.sha256)
            return path
    destination = candidates[-1]
    if download:
        try:
            _download(remote.url, destination, remote.sha256)
        except (OSError, urllib.error.URLError, TimeoutError) as error:
            raise _missing_error(
                benchmark, filename, destination, f"download failed: {error}"
            ) from None
        return destination
    raise _missing_error(benchmark, filename, destination, "downloads are disabled")


def locate_all(
    benchmark: Benchmark, data_dir: str | os.PathLike, download: bool
) -> dict[str, Path]:
    """Locate (downloading if allowed) every file of ``benchmark``: all of them or none.

    Returns:
        The verified local path of each file of ``benchmark.files``, by file name.

    Raises:
        DataUnavailableError, ChecksumError: as :func:`locate`; the files this call downloaded
            before the failure and the folders it created are removed first.
    """
    created = _missing_folders(Path(data_dir) / benchmark.name)
    found: dict[str, Path] = {}
    downloaded: list[Path] = []
    try:
        for filename in benchmark.files:
            present = any(p.is_file() for p in candidate_paths(benchmark, filename, data_dir))
            found[filename] = locate(benchmark, filename, data_dir, download)
            if not present:
                downloaded.append(found[filename])
    except BaseException:
        for path in downloaded:
            path.unlink(missing_ok=True)
        _remove_empty_folders(created)
        raise
    return found


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first) while they exist and are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:  # not empty: something else was put there
            return


def _missing_error(
    benchmark: Benchmark, filename: str, destination: Path, reason: str
) -> DataUnavailableError:
    remote = benchmark.files[filename]
    return DataUnavailableError(
        f"{filename} of dataset {benchmark.name!r} is missing ({reason}). Download it from "
        f"{remote.url} and save it as {destination} (sha256 {remote.sha256})."
    )


def _download(url: str, destination: Path, sha256: str) -> None:
    """Fetch ``url`` to a temporary file beside ``destination``; verify it, then rename it.

    On any failure the temporary file and the folders created for ``destination`` are removed.
    """
    created = _missing_folders(destination.parent)
    destination.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, destination)
    try:
        _fetch_verified(url, destination, sha256)
    except BaseException:
        _remove_empty_folders(created)
        raise


def _fetch_verified(url: str, destination: Path, sha256: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    try:
        with (
            os.fdopen(handle, "wb") as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
        actual = sha256_file(temporary)
        if actual != sha256:
            raise ChecksumError(
                f"{url}: the downloaded content has sha256 {actual}, expected {sha256}; "
                f"nothing was written to {destination}"
            )
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
