"""The benchmark registry: pinned URLs, checksums, item counts and the unavailable LastFM split."""

from __future__ import annotations

import re

import pytest

from datamodules.errors import DataUnavailableError
from datamodules.registry import (
    BENCHMARKS,
    DMI_GNN_COMMIT,
    GCE_GNN_COMMIT,
    TEST_PAIRS_FILE,
    TRAIN_SESSIONS_FILE,
    get_benchmark,
)

_PINNED_URL = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/.+")


def test_every_entry_has_pinned_urls_and_sha256():
    for benchmark in BENCHMARKS.values():
        for name, remote in benchmark.files.items():
            assert _PINNED_URL.match(remote.url), (benchmark.name, remote.url)
            assert remote.url.endswith("/" + name)
            assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256), (benchmark.name, name)


@pytest.mark.parametrize(
    ("name", "num_items", "rule", "commit", "folder"),
    [
        ("tmall", 40_727, 1, GCE_GNN_COMMIT, "CCIIPLab/GCE-GNN"),
        ("diginetica", 43_097, 1, GCE_GNN_COMMIT, "CCIIPLab/GCE-GNN"),
        ("nowplaying", 60_416, 1, GCE_GNN_COMMIT, "CCIIPLab/GCE-GNN"),
        ("retailrocket", 36_968, 2, DMI_GNN_COMMIT, "MICLab-Rec/DMI-GNN"),
    ],
)
def test_entries(name, num_items, rule, commit, folder):
    benchmark = get_benchmark(name)
    assert (benchmark.num_items, benchmark.min_prefix_length) == (num_items, rule)
    assert set(benchmark.files) == {TRAIN_SESSIONS_FILE, TEST_PAIRS_FILE}
    for remote in benchmark.files.values():
        assert f"/{folder}/{commit}/datasets/" in remote.url
    assert ("Global Context Enhanced" if "GCE" in folder else "Dynamic Multi-Interest") in (
        benchmark.citation
    )
    benchmark.require_available()


def test_registered_checksums_match_the_shared_copies(shared_data):
    sums = {}
    for line in (shared_data("SHA256SUMS")).read_text().splitlines():
        digest, path = line.split()
        sums[path.removeprefix("./")] = digest
    for name, folder in (("tmall", "tmall-gcegnn"), ("diginetica", "diginetica-gcegnn")):
        for filename, remote in get_benchmark(name).files.items():
            assert remote.sha256 == sums[f"{folder}/{filename}"]


def test_lastfm_is_registered_but_unavailable_with_an_explanation():
    benchmark = get_benchmark("lastfm")
    assert benchmark.num_items == 38_615
    with pytest.raises(DataUnavailableError, match="not publicly available") as caught:
        benchmark.require_available()
    assert "dmi-gnn prepare lastfm" in str(caught.value)


def test_unknown_name_lists_the_registered_ones():
    with pytest.raises(DataUnavailableError, match="unknown benchmark 'tmal'") as caught:
        get_benchmark("tmal")
    for name in BENCHMARKS:
        assert name in str(caught.value)
