"""Finding, downloading and checksumming the benchmark files.

Lookup rule for a registered benchmark ``name`` and a file ``F``: ``<data_dir>/F`` first (so
``data_dir`` may point straight at a folder holding the files), then ``<data_dir>/<name>/F``.
A missing file is downloaded to ``<data_dir>/<name>/F``. Every file found or downloaded must
match the registered sha256.
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


def _missing_error(
    benchmark: Benchmark, filename: str, destination: Path, reason: str
) -> DataUnavailableError:
    remote = benchmark.files[filename]
    return DataUnavailableError(
        f"{filename} of dataset {benchmark.name!r} is missing ({reason}). Download it from "
        f"{remote.url} and save it as {destination} (sha256 {remote.sha256})."
    )


def _download(url: str, destination: Path, sha256: str) -> None:
    """Fetch ``url`` to a temporary file beside ``destination``; verify it, then rename it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", url, destination)
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
