"""Locating, verifying and downloading benchmark files (downloads use file:// URLs, no network)."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import pytest

from datamodules import SessionDataModule
from datamodules.errors import ChecksumError, DataUnavailableError
from datamodules.files import locate, locate_all, sha256_file
from datamodules.registry import Benchmark, RemoteFile

CONTENT = b"the train file"
DIGEST = hashlib.sha256(CONTENT).hexdigest()


def _benchmark(url: str, sha256: str = DIGEST, **more: RemoteFile) -> Benchmark:
    return Benchmark(
        name="toy",
        files={"train.bin": RemoteFile(url, sha256), **more},
        num_items=3,
        min_prefix_length=1,
        citation="none",
        provenance="a test",
    )


def test_sha256_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(CONTENT)
    assert sha256_file(path) == DIGEST


@pytest.mark.parametrize("subfolder", ["", "toy"])
def test_finds_the_file_in_data_dir_or_its_named_subfolder(tmp_path, subfolder):
    (tmp_path / subfolder).mkdir(exist_ok=True)
    (tmp_path / subfolder / "train.bin").write_bytes(CONTENT)
    found = locate(_benchmark("https://unused.invalid/x"), "train.bin", tmp_path, download=False)
    assert found == tmp_path / subfolder / "train.bin"


def test_checksum_mismatch_names_path_expected_and_actual(tmp_path):
    (tmp_path / "train.bin").write_bytes(b"something else")
    with pytest.raises(ChecksumError) as caught:
        locate(_benchmark("https://unused.invalid/x"), "train.bin", tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path / "train.bin") in message
    assert DIGEST in message
    assert hashlib.sha256(b"something else").hexdigest() in message


def test_missing_file_offline_names_file_url_destination_and_sha256(tmp_path):
    url = "https://raw.githubusercontent.com/o/r/" + "0" * 40 + "/train.bin"
    with pytest.raises(DataUnavailableError) as caught:
        locate(_benchmark(url), "train.bin", tmp_path, download=False)
    message = str(caught.value)
    for part in ("train.bin", url, str(tmp_path / "toy" / "train.bin"), DIGEST, "disabled"):
        assert part in message


def test_download_goes_to_the_named_subfolder_and_is_verified(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(CONTENT)
    data_dir = tmp_path / "data"
    found = locate(_benchmark(source.as_uri()), "train.bin", data_dir, download=True)
    assert found == data_dir / "toy" / "train.bin"
    assert found.read_bytes() == CONTENT
    assert [p.name for p in found.parent.iterdir()] == ["train.bin"]  # no temporary left


def test_download_with_wrong_content_writes_nothing(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(b"tampered")
    data_dir = tmp_path / "data"
    with pytest.raises(ChecksumError, match="expected " + DIGEST):
        locate(_benchmark(source.as_uri()), "train.bin", data_dir, download=True)
    assert not data_dir.exists()  # neither the file nor the folders made for it


def test_failed_download_is_one_clear_error(tmp_path):
    url = (tmp_path / "nowhere.bin").as_uri()
    with pytest.raises(DataUnavailableError) as caught:
        locate(_benchmark(url), "train.bin", tmp_path / "data", download=True)
    message = str(caught.value)
    assert "download failed" in message
    assert url in message
    assert str(tmp_path / "data" / "toy" / "train.bin") in message
    assert DIGEST in message


def test_unknown_file_of_a_benchmark(tmp_path):
    with pytest.raises(DataUnavailableError, match=r"has no file 'test\.bin'"):
        locate(_benchmark("https://unused.invalid/x"), "test.bin", tmp_path, download=False)


def test_failed_download_leaves_no_folder_behind(tmp_path):
    data_dir = tmp_path / "data"
    with pytest.raises(DataUnavailableError, match="download failed"):
        locate(_benchmark((tmp_path / "nowhere.bin").as_uri()), "train.bin", data_dir, True)
    assert list(tmp_path.iterdir()) == []


def test_failed_download_keeps_folders_that_were_there(tmp_path):
    (tmp_path / "toy").mkdir()
    with pytest.raises(DataUnavailableError):
        locate(_benchmark((tmp_path / "nowhere.bin").as_uri()), "train.bin", tmp_path, True)
    assert [p.name for p in tmp_path.iterdir()] == ["toy"]
    assert list((tmp_path / "toy").iterdir()) == []


def test_locate_all_is_all_or_nothing(tmp_path):
    source = tmp_path / "remote.bin"
    source.write_bytes(CONTENT)
    missing = RemoteFile((tmp_path / "nowhere.bin").as_uri(), DIGEST)
    benchmark = _benchmark(source.as_uri(), **{"test.bin": missing})
    data_dir = tmp_path / "data"
    with pytest.raises(DataUnavailableError, match=r"test\.bin .*download failed"):
        locate_all(benchmark, data_dir, download=True)
    assert not data_dir.exists()  # train.bin came down first and was removed again


def test_locate_all_keeps_files_that_were_there(tmp_path):
    (tmp_path / "train.bin").write_bytes(CONTENT)
    missing = RemoteFile((tmp_path / "nowhere.bin").as_uri(), DIGEST)
    with pytest.raises(DataUnavailableError):
        locate_all(_benchmark("https://unused.invalid/x", **{"test.bin": missing}), tmp_path, True)
    assert [p.name for p in tmp_path.iterdir()] == ["train.bin"]


def test_a_failed_benchmark_download_leaves_data_dir_as_it_was(tmp_path, monkeypatch):
    """`SessionDataModule(dataset="tmall")` offline: one error, no empty `<data_dir>/tmall/`."""

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    data = SessionDataModule(dataset="tmall", data_dir=str(tmp_path / "data"))
    with pytest.raises(DataUnavailableError, match="network is unreachable"):
        data.prepare_data()
    assert list(tmp_path.iterdir()) == []
