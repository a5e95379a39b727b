"""Bad input gives one PrepareError naming file, line and column; the CLI exits with 2."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from datamodules.preprocess.errors import PrepareError
from datamodules.preprocess.readers import ColumnSpec, TextOptions, read_log

GENERIC = ["--session-column", "session", "--item-column", "item", "--time-column", "time"]
OK = ["--min-item-support", "1", "--test-seconds", "3600"]  # suits the 40-row log
START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def make_log(path: Path, rows: int = 40, delimiter: str = ",", bad: dict | None = None) -> Path:
    """A small valid log (``session,item,time`` ISO-8601); ``bad`` maps data-row index to
    ``{column: replacement text}``."""
    bad = bad or {}
    lines = [delimiter.join(("session", "item", "time"))]
    for r in range(rows):
        moment = (START + dt.timedelta(minutes=7 * r)).strftime("%Y-%m-%dT%H:%M:%SZ")
        values = {"session": str(r // 4), "item": str(r % 6), "time": moment}
        values.update(bad.get(r, {}))
        lines.append(delimiter.join(values[c] for c in ("session", "item", "time")))
    path.write_text("\n".join(lines) + "\n")
    return path


def expect_error(prepare, path: Path, *extra: str) -> str:
    code, output, _, err = prepare("generic", "--input", str(path), *GENERIC, *extra)
    assert code == 2
    assert not output.exists()
    assert err.count("error:") == 1
    return err


def test_missing_column(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv")
    code, output, _, err = prepare(
        "generic", "--input", str(path), "--session-column", "session",
        "--item-column", "product", "--time-column", "time",
    )  # fmt: skip
    assert code == 2 and not output.exists()
    assert f"{path}, line 1, column 'product'" in err
    assert "'session', 'item', 'time'" in err  # what the header does have


def test_unparsable_timestamp(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv", bad={16: {"time": "2020-13-45T00:00:00Z"}})
    err = expect_error(prepare, path)
    assert f"{path}, line 18, column 'time'" in err
    assert "'2020-13-45T00:00:00Z'" in err


def test_unparsable_id(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv", bad={30: {"item": "x7"}})
    err = expect_error(prepare, path)
    assert f"{path}, line 32, column 'item'" in err
    assert "'x7'" in err and "--id-type str" in err


def test_string_ids_are_accepted_with_id_type_str(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv", bad={30: {"item": "x7"}})
    code, _, report, err = prepare(
        "generic", "--input", str(path), *GENERIC, "--id-type", "str", *OK
    )
    assert code == 0, err
    assert report["read"]["items"] == 7


def test_empty_file(tmp_path, prepare):
    path = tmp_path / "log.csv"
    path.write_text("")
    err = expect_error(prepare, path)
    assert f"{path}, line 1: the file is empty" in err


def test_header_without_rows(tmp_path, prepare):
    path = tmp_path / "log.csv"
    path.write_text("session,item,time\n")
    err = expect_error(prepare, path)
    assert f"{path}, line 2: the file has no data rows" in err


def test_wrong_delimiter_is_named_and_the_right_one_suggested(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv", delimiter=";")
    err = expect_error(prepare, path, "--delimiter", ",")
    assert f"{path}, line 1, column 'session'" in err
    assert "1 column(s)" in err and "--delimiter ';'" in err


def test_auto_delimiter_reads_semicolons_and_tabs(tmp_path, prepare):
    for delimiter, name in ((";", "semi.csv"), ("\t", "tab.tsv")):
        path = make_log(tmp_path / name, delimiter=delimiter)
        code, _, report, err = prepare("generic", "--input", str(path), *GENERIC, *OK)
        assert code == 0, err
        assert report["read"]["rows"] == 40


def test_headerless_file_with_wrong_delimiter(tmp_path, prepare):
    path = tmp_path / "clicks.dat"
    path.write_text("1;2014-04-01T10:00:00.000Z;214;0\n1;2014-04-01T10:01:00.000Z;215;0\n")
    code, output, _, err = prepare("yoochoose", "--input", str(path))
    assert code == 2 and not output.exists()
    assert f"{path}, line 1: expected 4 fields" in err and "--delimiter ';'" in err


def test_malformed_row_is_located_after_blank_lines(tmp_path, prepare):
    path = make_log(tmp_path / "log.csv")
    lines = path.read_text().splitlines()
    lines[5] = lines[5] + ",extra"  # physical line 6 before the blank lines are added
    lines.insert(3, "")
    lines.insert(3, "")
    path.write_text("\n".join(lines) + "\n")
    err = expect_error(prepare, path)
    assert f"{path}, line 8: malformed row" in err
    code, _, report, err = prepare(
        "generic", "--input", str(path), *GENERIC, "--skip-bad-rows", *OK
    )
    assert code == 0, err
    assert report["read"]["skipped_rows"] == 1 and report["read"]["rows"] == 39


def test_bad_value_far_into_a_large_file_is_located_exactly(tmp_path, prepare):
    rows = 150_000
    path = tmp_path / "big.csv"
    with open(path, "w") as handle:
        handle.write("session,item,time\n")
        for r in range(rows):
            handle.write(f"{r // 5},{r % 97},{1_600_000_000 + r}\n")
            if r == 1000:
                handle.write("\n")  # an empty line: skipped by the reader, still a line
    text = path.read_text().splitlines()
    target = 123_456 + 2  # data row 123456 -> physical line (header, blank line)
    assert text[target].startswith(f"{123_456 // 5},")
    text[target] = text[target].rsplit(",", 1)[0] + ",12x"
    path.write_text("\n".join(text) + "\n")
    err = expect_error(prepare, path)
    assert f"{path}, line {target + 1}, column 'time'" in err and "'12x'" in err


def test_empty_required_value_is_located(tmp_path):
    path = make_log(tmp_path / "log.csv", bad={9: {"item": ""}})
    specs = [ColumnSpec("item", "item", "int_id"), ColumnSpec("time", "time", "time")]
    with pytest.raises(PrepareError) as caught:
        read_log([path], specs, TextOptions())
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), 11, "item")
    assert "empty value" in str(error)


def test_generic_drops_rows_with_empty_values_and_reports_them(tmp_path, prepare, step):
    path = make_log(tmp_path / "log.csv", bad={9: {"item": ""}, 10: {"time": ""}})
    code, _, report, err = prepare("generic", "--input", str(path), *GENERIC, *OK)
    assert code == 0, err
    assert step(report, "rows with an empty session, item or time")["rows_removed"] == 2


def test_missing_input_file(tmp_path, prepare):
    err = expect_error(prepare, tmp_path / "absent.csv")
    assert f"{tmp_path / 'absent.csv'}: no such file" in err


def test_unrecognised_time_format_suggests_the_option(tmp_path, prepare):
    days = {r: {"time": f"0{r % 9 + 1}/01/2020"} for r in range(40)}
    path = make_log(tmp_path / "log.csv", bad=days)
    err = expect_error(prepare, path)
    assert f"{path}, line 2, column 'time'" in err and "--time-format" in err
    pattern = ["--time-format", "%d/%m/%Y", "--min-item-support", "1", "--test-days", "2"]
    code, _, report, err = prepare("generic", "--input", str(path), *GENERIC, *pattern)
    assert code == 0, err
    assert report["split"]["split_date"] == "2020-01-07T00:00:00Z"  # 9 January - 2 days
    days[12] = {"time": "32/01/2020"}
    path = make_log(tmp_path / "bad.csv", bad=days)
    err = expect_error(prepare, path, *pattern)
    assert f"{path}, line 14, column 'time'" in err and "'32/01/2020'" in err


def test_parquet_missing_column_and_bad_value(tmp_path, prepare):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    table = pa.table(
        {"session": [1, 1, 2, 2], "item": ["1", "2", "3", "zz"], "time": [1.0, 2.0, 3.0, 4.0]}
    )
    pq.write_table(table, path)
    err = expect_error(prepare, path)
    assert f"{path}, row 4, column 'item'" in err and "'zz'" in err
    code, _, _, err = prepare(
        "generic", "--input", str(path), "--session-column", "sid",
        "--item-column", "item", "--time-column", "time",
    )  # fmt: skip
    assert code == 2 and f"{path}, column 'sid'" in err


def test_iso_time_format_rejects_numbers(tmp_path, prepare):
    path = make_log(
        tmp_path / "log.csv", bad={r: {"time": str(1_600_000_000 + r)} for r in range(40)}
    )
    err = expect_error(prepare, path, "--time-format", "iso")
    assert f"{path}, line 2, column 'time'" in err and "not an ISO-8601 time" in err


def test_yoochoose_accepts_the_header_srgnn_asks_to_prepend(tmp_path, prepare):
    rows = [
        f"{s},2014-04-0{1 + 2 * (s // 20)}T10:0{k}:00.000Z,{k % 3},0"
        for s in range(40)
        for k in range(3)
    ]
    bare = tmp_path / "bare.dat"
    bare.write_text("\n".join(rows) + "\n")
    headed = tmp_path / "headed.dat"
    headed.write_text("session_id,timestamp,item_id,category\n" + "\n".join(rows) + "\n")
    results = [prepare("yoochoose", "--input", str(p)) for p in (bare, headed)]
    assert [r[0] for r in results] == [0, 0], results[0][3] + results[1][3]
    assert results[0][2]["read"] == results[1][2]["read"]
    assert results[0][2]["read"]["rows"] == 120
    assert results[0][2]["final"] == results[1][2]["final"]
