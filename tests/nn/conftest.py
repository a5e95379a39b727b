"""Fixtures for the network tests."""

from __future__ import annotations

import pytest
import torch

from tests.nn.helpers import make_batch

#: Hand-built sessions (chronological). [7, 3, 5, 3] is reversed [3, 5, 3, 7] (a repeat at a
#: distance); [2, 2, 4] has an immediate repeat; [6] is a single click.
SESSIONS = [[7, 3, 5, 3], [2, 2, 4], [6], [1, 8, 1, 8, 9]]


@pytest.fixture
def batch():
    return make_batch(SESSIONS, targets=[4, 9, 2, 5])


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
