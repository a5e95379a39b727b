"""Shared fixtures.

Tests that read the real datasets in ``../shared/data`` use :func:`shared_data`. Where that
folder is absent (a user's clone) they skip with the reason; with
``DMI_GNN_REQUIRE_SHARED_DATA=1`` (set by ``.ci/run``) a missing folder is a failure, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_BESIDE_CHECKOUT = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_DATA = Path(os.environ.get("DMI_GNN_SHARED_DATA", _BESIDE_CHECKOUT))


def require_shared(relative: str) -> Path:
    """Return ``SHARED_DATA / relative`` or skip (fail under CI) when it is missing."""
    path = SHARED_DATA / relative
    if path.exists():
        return path
    message = (
        f"{path} is missing: the real-data tests need the shared data folder beside the "
        "checkout (set DMI_GNN_SHARED_DATA to point elsewhere)"
    )
    if os.environ.get("DMI_GNN_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def shared_data():
    """A function ``shared_data("tmall-gcegnn")`` -> Path, skipping where the data is absent."""
    return require_shared
