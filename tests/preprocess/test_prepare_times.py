"""Time columns: non-finite and out-of-range values are located errors; the unit (seconds or
milliseconds) is decided from the whole column, and mixed units are an error (issue 11 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.readers import ColumnSpec, TextOptions, read_log

GENERIC = ["--session-column", "session", "--item-column", "item", "--time-column", "time"]
OK = ["--min-item-support", "1", "--test-days", "0.1"]
START = 1_600_000_000
ROWS = 1200  # well past the 200 sampled lines


def seconds_log(path: Path, bad: dict[int, str] | None = None, *, scale: int = 1) -> Path:
    """``ROWS`` clicks (4 per session, a minute apart) in unix seconds (``scale=1000``: ms);
    ``bad`` maps a data-row index to the text of its time field."""
    bad = bad or {}
    lines = ["session,item,time"]
    for r in range(ROWS):
        lines.append(f"{r // 4},{r % 6},{bad.get(r, str((START + 60 * r) * scale))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def expect_error(prepare, path: Path, *extra: str) -> str:
    code, output, _, err = prepare("generic", "--input", str(path), *GENERIC, *OK, *extra)
    assert code == 2, err
    assert not output.exists()
    assert err.count("error:") == 1, err
    return err


@pytest.mark.parametrize("text", ["inf", "-inf", "Infinity", "nan", "NaN"])
@pytest.mark.parametrize("row", [100, 1100])  # inside and beyond the sampled first lines
def test_non_finite_time_is_an_error_naming_the_line_and_value(tmp_path, prepare, text, row):
    path = seconds_log(tmp_path / "log.csv", {row: text})
    err = expect_error(prepare, path)
    assert f"{path}, line {row + 2}, column 'time'" in err
    assert repr(text) in err


@pytest.mark.parametrize("row", [100, 1100])
def test_huge_time_is_out_of_range(tmp_path, prepare, row):
    path = seconds_log(tmp_path / "log.csv", {row: "1e300"})
    err = expect_error(prepare, path)
    assert f"{path}, line {row + 2}, column 'time'" in err
    assert "'1e300'" in err and "out of range" in err


@pytest.mark.parametrize("row", [50, 1100])
def test_one_millisecond_time_among_seconds_is_a_mixed_unit_error(tmp_path, prepare, row):
    millis = str((START + 60 * row) * 1000)
    path = seconds_log(tmp_path / "log.csv", {row: millis})
    err = expect_error(prepare, path)
    assert f"{path}, line {row + 2}, column 'time'" in err
    assert repr(millis) in err and "milliseconds" in err and "seconds" in err
    assert "line 2" in err  # a seconds value it conflicts with
    assert "--time-format" in err


def test_one_second_time_among_milliseconds_is_a_mixed_unit_error(tmp_path, prepare):
    path = seconds_log(tmp_path / "log.csv", {700: str(START + 60 * 700)}, scale=1000)
    err = expect_error(prepare, path)
    assert f"{path}, line 702, column 'time'" in err and "mixed units" in err


def test_a_whole_millisecond_column_is_read_as_milliseconds(tmp_path, prepare):
    path = seconds_log(tmp_path / "log.csv", scale=1000)
    code, _, report, err = prepare("generic", "--input", str(path), *GENERIC, *OK)
    assert code == 0, err
    assert report["read"]["time_format"] == "unix_ms"
    assert report["split"]["max_time"] == START + 60 * (ROWS - 1)


def test_unit_is_decided_over_all_input_files(tmp_path, prepare):
    first = seconds_log(tmp_path / "a.csv")
    second = seconds_log(tmp_path / "b.csv", scale=1000)
    code, output, _, err = prepare(
        "generic", "--input", str(first), "--input", str(second), *GENERIC, *OK
    )
    assert code == 2 and not output.exists()
    assert f"{second}, line 2, column 'time'" in err and "mixed units" in err


def test_explicit_seconds_refuse_a_millisecond_value(tmp_path, prepare):
    millis = str((START + 60 * 900) * 1000)
    path = seconds_log(tmp_path / "log.csv", {900: millis})
    err = expect_error(prepare, path, "--time-format", "unix")
    assert f"{path}, line 902, column 'time'" in err and "out of range" in err
    assert "unix_ms" in err  # the hint


def test_recipe_time_columns_refuse_non_finite_and_huge_values(tmp_path, prepare):
    for text in ("inf", "nan", "1e300"):
        lines = ["SessionId\tItemId\tTime"]
        lines += [f"{r // 4 + 1}\t{r % 6}\t{START + 60 * r}" for r in range(400)]
        lines[301] = f"{300 // 4 + 1}\t3\t{text}"
        path = tmp_path / f"nowplaying-{text}.csv"
        path.write_text("\n".join(lines) + "\n")
        code, output, _, err = prepare("nowplaying", "--input", str(path))
        assert code == 2 and not output.exists(), err
        assert f"{path}, line 302, column 'Time'" in err and repr(text) in err


def test_parquet_time_values_are_checked_too(tmp_path, prepare):
    import pyarrow as pa
    import pyarrow.parquet as pq

    times = [float(START + 60 * r) for r in range(40)]
    times[17] = float("inf")
    path = tmp_path / "log.parquet"
    rows = range(40)
    pq.write_table(
        pa.table({"session": [r // 4 for r in rows], "item": [r % 5 for r in rows], "time": times}),
        path,
    )
    code, _, _, err = prepare("generic", "--input", str(path), *GENERIC, *OK)
    assert code == 2 and f"{path}, row 18, column 'time'" in err and "inf" in err


def test_read_log_raises_prepare_error_with_the_location(tmp_path):
    path = seconds_log(tmp_path / "log.csv", {1000: "inf"})
    specs = [ColumnSpec("item", "item", "int_id"), ColumnSpec("time", "time", "time")]
    with pytest.raises(PrepareError) as caught:
        read_log([path], specs, TextOptions())
    assert (caught.value.path, caught.value.line, caught.value.column) == (str(path), 1002, "time")


def test_every_written_json_is_finite(tmp_path, prepare):
    path = seconds_log(tmp_path / "log.csv")
    code, output, _, err = prepare("generic", "--input", str(path), *GENERIC, *OK)
    assert code == 0, err
    for name in ("dataset.json", "report.json", "vocabulary.json"):
        text = (output / name).read_text()
        assert "Infinity" not in text and "NaN" not in text
        json.loads(text, parse_constant=lambda c, name=name: pytest.fail(f"{name} holds {c}"))


def test_write_processed_refuses_non_finite_metadata(tmp_path):
    import numpy as np

    from datamodules.processed import (
        ProcessedDataset,
        ProcessedDatasetError,
        Sessions,
        write_processed,
    )

    sessions = Sessions(items=np.array([1, 2], dtype=np.int64), offsets=np.array([0, 2]))
    dataset = ProcessedDataset(
        sessions, sessions, [10, 20], "x", metadata={"report": {"max_time": float("inf")}}
    )
    with pytest.raises(ProcessedDatasetError, match="not finite"):
        write_processed(dataset, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_non_finite_option_values_are_refused(tmp_path, prepare):
    path = seconds_log(tmp_path / "log.csv")
    for option in (["--test-days", "inf"], ["--test-seconds", "nan"], ["--session-gap", "nan"]):
        argv = ["generic", "--input", str(path), *GENERIC, "--min-item-support", "1", *option]
        code, output, _, err = prepare(*argv)
        assert code == 2 and not output.exists(), (option, err)
        assert option[0] in err, err
