"""Each shipped format parsed from the real files: counts from data/README.md, known values."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from cluster.foundation.domain.errors import DataError
from cluster.foundation.domain.wire import Bar, Quote, Trade
from cluster.foundation.storage.market_files import (
    detect_format,
    parse_utc_ns,
    read_daily_bars,
    read_file,
    read_quote_bars,
    read_trade_bars,
    read_trade_ticks,
)

DATA = Path(__file__).resolve().parents[3] / "data"
EQUITY_TRADE_BARS = DATA / "us_equity_minute_trade_bars.csv"
EQUITY_QUOTE_BARS = DATA / "us_equity_minute_quote_bars.csv"
TRADE_TICKS = DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"
DAILY_BARS = DATA / "us_equity_daily_bars_1998-2021.csv"
CRYPTO_TRADE_BARS = DATA / "crypto_minute_trade_bars_coinbase.csv"
CRYPTO_QUOTE_BARS = DATA / "crypto_minute_quote_bars_coinbase.csv"


def _ns(iso: str) -> int:
    """Reference conversion through datetime, independent of the reader's int arithmetic."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (int(moment.timestamp()) * 1_000_000_000) + moment.microsecond * 1_000


@pytest.mark.parametrize(
    ("path", "reader", "kind", "rows_in_readme"),
    [
        (EQUITY_TRADE_BARS, read_trade_bars, Bar, 16_679),
        (EQUITY_QUOTE_BARS, read_quote_bars, Quote, 19_178),
        (TRADE_TICKS, read_trade_ticks, Trade, 24_293),
        (DAILY_BARS, read_daily_bars, Bar, 33_209),
        (CRYPTO_TRADE_BARS, read_trade_bars, Bar, 7_343),
        (CRYPTO_QUOTE_BARS, read_quote_bars, Quote, 8_626),
    ],
)
def test_reader_when_reading_shipped_file_then_one_message_per_readme_row(path, reader, kind, rows_in_readme):
    # Act
    messages = list(reader(path))
    # Assert
    assert len(messages) == rows_in_readme
    assert all(type(m) is kind for m in messages)


def test_trade_bars_when_spy_anchor_minute_then_readme_values():
    # Arrange
    anchor_ns = _ns("2013-10-07T13:30:00Z")
    # Act
    bars = [b for b in read_trade_bars(EQUITY_TRADE_BARS) if b.symbol == "SPY" and b.ts_ns == anchor_ns]
    # Assert
    assert len(bars) == 1
    bar = bars[0]
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (167.43, 167.52, 167.41, 167.44, 816_453)


def test_quote_bars_when_bar_read_then_quote_at_bar_start_carries_open_not_close():
    # Arrange: file row SPY 13:30 has bid O 167.41 / C 167.44, ask O 167.41 / C 167.45, sizes 4400/1400
    anchor_ns = _ns("2013-10-07T13:30:00Z")
    # Act
    quotes = [q for q in read_quote_bars(EQUITY_QUOTE_BARS) if q.symbol == "SPY" and q.ts_ns == anchor_ns]
    # Assert
    assert quotes == [Quote("SPY", anchor_ns, 167.41, 4400.0, 167.41, 1400.0)]


def test_crypto_quote_bars_when_float_noise_in_sizes_then_kept_as_is():
    # Act
    first = next(read_quote_bars(CRYPTO_QUOTE_BARS))
    # Assert
    assert first == Quote("BTC/USD", _ns("2018-04-04T00:00:00Z"), 7424.9, 1.88483821, 7424.91, 33.35399601000002)


def test_daily_bars_when_aapl_split_then_raw_prices_jump():
    # Act
    aapl = {b.ts_ns: b for b in read_daily_bars(DAILY_BARS) if b.symbol == "AAPL"}
    # Assert
    before = aapl[_ns("2014-06-06T04:00:00Z")]
    after = aapl[_ns("2014-06-09T04:00:00Z")]
    assert (before.close, after.open) == (645.57, 92.69)
    assert after.volume == 72_875_948


def test_trade_ticks_when_millisecond_timestamps_then_ns_match_datetime_and_fields_match_csv():
    # Arrange
    with open(TRADE_TICKS, newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Act
    trades = list(read_trade_ticks(TRADE_TICKS))
    # Assert
    assert [t.ts_ns for t in trades] == [_ns(r["timestamp"]) for r in rows]
    assert [(t.price, t.size, t.exchange) for t in trades] == [
        (float(r["price"]), float(r["size"]), r["exchange"]) for r in rows
    ]


def test_parse_utc_ns_when_fraction_has_fewer_digits_then_scaled_to_ns():
    # Act / Assert
    assert parse_utc_ns("2013-10-07T08:00:30.27Z") - parse_utc_ns("2013-10-07T08:00:30Z") == 270_000_000
    assert parse_utc_ns("1970-01-01T00:00:00.000000001Z") == 1


def test_read_file_when_any_shipped_format_then_detects_it_from_header():
    # Act
    first = {path.name: type(next(read_file(path))) for path in (EQUITY_QUOTE_BARS, TRADE_TICKS, DAILY_BARS)}
    # Assert
    assert first == {EQUITY_QUOTE_BARS.name: Quote, TRADE_TICKS.name: Trade, DAILY_BARS.name: Bar}


def test_detect_format_when_unknown_header_then_data_error_names_file(tmp_path):
    # Arrange
    path = tmp_path / "alien.csv"
    path.write_text("ticker,time,px\nSPY,2013-10-07T13:30:00Z,167.43\n")
    # Act
    with pytest.raises(DataError) as caught:
        detect_format(path)
    # Assert
    assert caught.value.source == str(path)
    assert caught.value.line == 1
    assert "ticker,time,px" in caught.value.reason


def test_typed_reader_when_file_has_other_format_then_data_error():
    # Act / Assert
    with pytest.raises(DataError, match="not the expected"):
        read_trade_bars(EQUITY_QUOTE_BARS)


@pytest.mark.parametrize(
    "text",
    [
        "2013-10-07 13:30:00Z",
        "2013-10-07T13:30:00",
        "2013-10-07T13:30:00+00:00",
        "2013-10-07T24:00:00Z",
        "2013-10-07T13:60:00Z",
        "2013-10-07T13:30:00.Z",
        "2013-10-07T13:30:00.1234567890Z",
        "2013-02-30T13:30:00Z",
        "2013-1-07T13:30:00Z",
        "2013-10-07T1a:30:00Z",
    ],
)
def test_parse_utc_ns_when_not_rfc3339_utc_then_rejected(text):
    with pytest.raises(ValueError):
        parse_utc_ns(text)
