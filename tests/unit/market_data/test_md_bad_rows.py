"""Bad rows are named by file and line; with a callback every other row is still delivered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cluster.foundation.domain.errors import DataError
from cluster.foundation.storage.market_files import (
    read_daily_bars,
    read_file,
    read_trade_bars,
    read_trade_ticks,
)

DATA = Path(__file__).resolve().parents[3] / "data"
ROWS_TAKEN = 30


def _real_lines(name: str) -> list[str]:
    """Header plus the first real rows of a shipped file."""
    return (DATA / name).read_text().splitlines()[: ROWS_TAKEN + 1]


def _with_line(lines: list[str], line_no: int, new_line: str) -> list[str]:
    changed = list(lines)
    changed[line_no - 1] = new_line
    return changed


def _swap_high_low(line: str) -> str:
    cells = line.split(",")
    cells[3], cells[4] = cells[4], cells[3]
    return ",".join(cells)


def _first_line_with_high_above_low(lines: list[str]) -> int:
    return next(i + 1 for i, line in enumerate(lines) if i > 0 and float(line.split(",")[3]) > float(line.split(",")[4]))


TRADE_BARS = "us_equity_minute_trade_bars.csv"
CORRUPTIONS: list[tuple[str, Callable[[str], str], str]] = [
    ("missing column", lambda line: line.rsplit(",", 1)[0], "columns"),
    ("extra column", lambda line: line + ",1", "columns"),
    ("unparsable number", lambda line: line.replace(",167.", ",16x7.", 1), "not a number"),
    ("space not T", lambda line: line.replace("T", " ", 1), "RFC-3339"),
    ("offset not Z", lambda line: line.replace("Z", "+00:00", 1), "RFC-3339"),
    ("impossible date", lambda line: line.replace("2013-10-04", "2013-02-30", 1), "bad date"),
    ("negative price", lambda line: line.replace(",167.", ",-167.", 1), "negative"),
    ("negative volume", lambda line: line.rsplit(",", 1)[0] + ",-300", "negative"),
    ("not finite", lambda line: line.rsplit(",", 1)[0] + ",nan", "finite"),
]


@pytest.mark.parametrize(("name", "corrupt", "reason_part"), CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_trade_bars_when_one_row_is_bad_then_error_names_file_and_line_and_others_delivered(
    tmp_path, name, corrupt, reason_part
):
    # Arrange
    lines = _real_lines(TRADE_BARS)
    bad_line = 7
    clean, dirty = tmp_path / "clean.csv", tmp_path / "dirty.csv"
    clean.write_text("\n".join(lines[: bad_line - 1] + lines[bad_line:]) + "\n")
    dirty.write_text("\n".join(_with_line(lines, bad_line, corrupt(lines[bad_line - 1]))) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_trade_bars(dirty, on_error=errors.append))
    # Assert
    assert [(e.source, e.line) for e in errors] == [(str(dirty), bad_line)]
    assert reason_part in errors[0].reason
    assert delivered == list(read_trade_bars(clean))
    assert len(delivered) == ROWS_TAKEN - 1


def test_trade_bars_when_high_below_low_then_reported_and_others_delivered(tmp_path):
    # Arrange
    lines = _real_lines(TRADE_BARS)
    bad_line = _first_line_with_high_above_low(lines)
    dirty = tmp_path / "dirty.csv"
    dirty.write_text("\n".join(_with_line(lines, bad_line, _swap_high_low(lines[bad_line - 1]))) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_trade_bars(dirty, on_error=errors.append))
    # Assert
    assert [(e.line, "high" in e.reason and "< low" in e.reason) for e in errors] == [(bad_line, True)]
    assert len(delivered) == ROWS_TAKEN - 1


def test_trade_bars_when_timestamp_goes_back_within_symbol_then_that_row_reported(tmp_path):
    # Arrange: line 9 gets the timestamp of line 2 (both SPY)
    lines = _real_lines(TRADE_BARS)
    cells = lines[8].split(",")
    cells[1] = lines[1].split(",")[1]
    dirty = tmp_path / "dirty.csv"
    dirty.write_text("\n".join(_with_line(lines, 9, ",".join(cells))) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_trade_bars(dirty, on_error=errors.append))
    # Assert
    assert [(e.source, e.line) for e in errors] == [(str(dirty), 9)]
    assert "earlier" in errors[0].reason
    assert [b.close for b in delivered] == [float(line.split(",")[5]) for i, line in enumerate(lines) if i not in (0, 8)]


def test_reader_when_several_bad_rows_then_each_reported_once_in_order(tmp_path):
    # Arrange
    lines = _real_lines("us_equity_trade_ticks_IBM_2013-10-07.csv")
    lines[3] = lines[3].replace(",P,", ",P,extra,")
    lines[10] = lines[10].replace("Z,", "z,", 1)
    lines[20] = lines[20].split(",", 3)[0] + ",IBM,1,2,3"
    path = tmp_path / "ticks.csv"
    path.write_text("\n".join(lines) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_trade_ticks(path, on_error=errors.append))
    # Assert
    assert [e.line for e in errors] == [4, 11, 21]
    assert len(delivered) == ROWS_TAKEN - 3


def test_reader_when_bad_row_and_no_callback_then_raises_data_error_with_line(tmp_path):
    # Arrange
    lines = _real_lines("us_equity_daily_bars_1998-2021.csv")
    lines[5] = lines[5].replace("-01-0", "-01-1", 1)  # date column no longer matches the timestamp
    path = tmp_path / "daily.csv"
    path.write_text("\n".join(lines) + "\n")
    # Act
    with pytest.raises(DataError) as caught:
        list(read_daily_bars(path))
    # Assert
    assert (caught.value.source, caught.value.line) == (str(path), 6)
    assert str(caught.value).startswith(f"{path}:6: ")


def test_reader_when_every_row_of_a_shipped_file_is_read_then_no_errors_are_reported():
    # Arrange
    errors: list[DataError] = []
    # Act
    for path in sorted(DATA.glob("*.csv")):
        for _ in read_file(path, on_error=errors.append):
            pass
    # Assert
    assert errors == []


def test_quote_bars_when_ask_high_below_ask_low_then_reason_names_the_ask_side(tmp_path):
    # Arrange: the first real SPY quote bar has ask high 167.87 and ask low 167.6; swap them
    lines = _real_lines("us_equity_minute_quote_bars.csv")
    cells = lines[1].split(",")
    cells[8], cells[9] = cells[9], cells[8]
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join(_with_line(lines, 2, ",".join(cells))) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_file(path, on_error=errors.append))
    # Assert
    assert [(e.line, e.reason) for e in errors] == [(2, "ask_high 167.6 < ask_low 167.87")]
    assert len(delivered) == ROWS_TAKEN - 1
