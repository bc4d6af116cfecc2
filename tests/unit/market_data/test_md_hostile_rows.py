"""Hostile CSV rows: one invalid UTF-8 byte or one impossible price costs its row only, named file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.foundation.domain.errors import DataError
from cluster.foundation.storage.market_files import (
    read_file,
    read_quote_bars,
    read_trade_bars,
    read_trade_ticks,
)

DATA = Path(__file__).resolve().parents[3] / "data"
ROWS_TAKEN = 30
BAD_LINE = 7


def _real_lines(name: str) -> list[str]:
    return (DATA / name).read_text().splitlines()[: ROWS_TAKEN + 1]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("name", ["us_equity_minute_trade_bars.csv", "us_equity_minute_quote_bars.csv",
                                  "us_equity_trade_ticks_IBM_2013-10-07.csv",
                                  "us_equity_quote_ticks_IBM_2013-10-07_0930-1030ET.csv"])
def test_reader_when_one_row_has_an_invalid_utf8_byte_then_data_error_names_file_and_line_and_others_arrive(
        tmp_path: Path, name: str) -> None:
    # Arrange: the symbol of line 7 gets a byte that is not UTF-8
    lines = [line.encode() for line in _real_lines(name)]
    clean = _write(tmp_path / "clean.csv", lines[: BAD_LINE - 1] + lines[BAD_LINE:])
    dirty_lines = list(lines)
    dirty_lines[BAD_LINE - 1] = b"\xff" + dirty_lines[BAD_LINE - 1]
    dirty = _write(tmp_path / "dirty.csv", dirty_lines)
    errors: list[DataError] = []
    # Act
    delivered = list(read_file(dirty, on_error=errors.append))
    # Assert
    assert [(e.source, e.line) for e in errors] == [(str(dirty), BAD_LINE)]
    assert "UTF-8" in errors[0].reason
    assert delivered == list(read_file(clean))


def test_reader_when_invalid_utf8_and_no_callback_then_data_error_not_unicode_error(tmp_path: Path) -> None:
    lines = [line.encode() for line in _real_lines("us_equity_minute_trade_bars.csv")]
    lines[2] = lines[2].replace(b",", b"\xc3,", 1)
    path = _write(tmp_path / "bars.csv", lines)
    with pytest.raises(DataError, match=r"bars.csv:3: invalid UTF-8"):
        list(read_trade_bars(path))


def test_reader_when_header_is_not_utf8_then_data_error_on_line_1(tmp_path: Path) -> None:
    path = _write(tmp_path / "bars.csv", [b"symbol,\xfftimestamp,open,high,low,close,volume", b"SPY"])
    with pytest.raises(DataError, match=r"bars.csv:1: unknown header"):
        list(read_file(path))


def _set_cell(line: str, index: int, value: str) -> str:
    cells = line.split(",")
    cells[index] = value
    return ",".join(cells)


PRICE_CASES = [
    ("us_equity_minute_trade_bars.csv", 4, "0", "low"),  # low = 0 (open/high/close still consistent)
    ("us_equity_minute_trade_bars.csv", 2, "-1", "open"),
    ("us_equity_minute_trade_bars.csv", 5, "inf", "close"),
    ("us_equity_minute_trade_bars.csv", 3, "nan", "high"),
    ("us_equity_minute_quote_bars.csv", 4, "0", "bid_low"),
    ("us_equity_minute_quote_bars.csv", 9, "0", "ask_low"),
    ("us_equity_trade_ticks_IBM_2013-10-07.csv", 2, "0", "price"),
    ("us_equity_trade_ticks_IBM_2013-10-07.csv", 2, "-0.0", "price"),
    ("us_equity_trade_ticks_IBM_2013-10-07.csv", 2, "Infinity", "price"),
]


@pytest.mark.parametrize(("name", "column", "value", "field"), PRICE_CASES)
def test_reader_when_a_price_is_zero_negative_or_not_finite_then_data_error_names_file_line_and_field(
        tmp_path: Path, name: str, column: int, value: str, field: str) -> None:
    # Arrange
    lines = _real_lines(name)
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines[: BAD_LINE - 1] + lines[BAD_LINE:]) + "\n")
    lines[BAD_LINE - 1] = _set_cell(lines[BAD_LINE - 1], column, value)
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n")
    errors: list[DataError] = []
    # Act
    delivered = list(read_file(path, on_error=errors.append))
    # Assert
    assert [(e.source, e.line) for e in errors] == [(str(path), BAD_LINE)]
    assert field in errors[0].reason
    assert delivered == list(read_file(clean))


def test_quote_bars_when_a_zero_bid_then_the_row_is_refused(tmp_path: Path) -> None:
    lines = _real_lines("us_equity_minute_quote_bars.csv")
    for column in (2, 3, 4, 5):
        lines[BAD_LINE - 1] = _set_cell(lines[BAD_LINE - 1], column, "0")
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"q.csv:7: bid_open '0' is zero"):
        list(read_quote_bars(path))


def test_trade_ticks_when_price_is_zero_and_no_callback_then_data_error(tmp_path: Path) -> None:
    lines = _real_lines("us_equity_trade_ticks_IBM_2013-10-07.csv")
    lines[1] = _set_cell(lines[1], 2, "0.00")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"t.csv:2: price '0.00' is zero"):
        list(read_trade_ticks(path))
