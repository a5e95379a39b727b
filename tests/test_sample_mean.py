"""``SampleMean``: the exact mean of per-sample values across batches and processes."""

from __future__ import annotations

import math

import pytest
import torch

from dmi_gnn.metrics import SampleMean


def test_uneven_shards_merge_into_the_mean_over_every_sample():
    """Two "ranks" with 78 and 77 samples: the merged states give the global mean."""
    values = torch.linspace(0.0, 9.0, 155) ** 2
    first, second = SampleMean(), SampleMean()
    for start in range(0, 78, 10):  # uneven batches too
        first.update(values[start : min(start + 10, 78)])
    second.update(values[78:])
    first.merge_state(second)
    assert first.count.item() == 155
    assert first.compute().item() == pytest.approx(values.mean().item(), rel=1e-6)
    mean_of_means = (values[:78].mean() + values[78:].mean()) / 2  # what the old log gave
    assert abs(mean_of_means.item() - values.mean().item()) > 1e-3


def test_a_nan_value_is_not_hidden():
    metric = SampleMean()
    metric.update(torch.tensor([1.0, math.nan]))
    assert math.isnan(metric.compute().item())
