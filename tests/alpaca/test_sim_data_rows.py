"""The simulator reads its CSVs with the project's one CSV reader: a row the replay feed refuses is
refused here too (DataError naming file and line), never served to a client as a price."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpaca_sim.data import BarEvent, QuoteEvent, TradeEvent, read_events
from cluster.foundation.domain.errors import DataError
from tests.alpaca.conftest import QUOTE_BARS, TRADE_BARS

DATA = Path(__file__).resolve().parents[2] / "data"
TICKS = DATA / "us_equity_trade_ticks_IBM_2013-10-07.csv"


def _with_row(tmp_path: Path, source: Path, line: int, column: int, value: str) -> Path:
    lines = source.read_text().splitlines()[:6]
    row = lines[line - 1].split(",")
    row[column] = value
    lines[line - 1] = ",".join(row)
    path = tmp_path / source.name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("source", "column", "value", "reason"), [
    (QUOTE_BARS, 10, "nan", "ask_close"),       # the ask the simulator quotes and fills at
    (QUOTE_BARS, 5, "-1", "bid_close"),
    (TRADE_BARS, 3, "1.0", "high"),            # high below the low
    (TRADE_BARS, 5, "inf", "close"),
    (TICKS, 2, "0", "price"),
])
def test_read_events_when_a_row_has_a_bad_price_then_data_error_names_file_line_and_field(
        tmp_path: Path, source: Path, column: int, value: str, reason: str) -> None:
    path = _with_row(tmp_path, source, 4, column, value)
    with pytest.raises(DataError, match=rf"^{path}:4: .*{reason}"):
        read_events(path)


def test_read_events_when_a_symbol_goes_back_in_time_then_data_error(tmp_path: Path) -> None:
    lines = TRADE_BARS.read_text().splitlines()[:4]
    path = tmp_path / "bars.csv"
    path.write_text("\n".join([lines[0], lines[1], lines[3], lines[2]]) + "\n")
    spy = [line for line in (lines[1], lines[3], lines[2]) if line.split(",")[0] == lines[1].split(",")[0]]
    if len(spy) < 3:
        pytest.skip("the first rows are not of one symbol")
    with pytest.raises(DataError, match=rf"^{path}:4: timestamp"):
        read_events(path)


def test_read_events_when_shipped_files_then_same_events_as_the_rows_say() -> None:
    bars = [e for e in read_events(TRADE_BARS) if isinstance(e, BarEvent)]
    quotes = [e for e in read_events(QUOTE_BARS) if isinstance(e, QuoteEvent)]
    ticks = [e for e in read_events(TICKS) if isinstance(e, TradeEvent)]
    bar_row = TRADE_BARS.read_text().splitlines()[1].split(",")
    quote_row = QUOTE_BARS.read_text().splitlines()[1].split(",")
    assert (bars[0].symbol, bars[0].open, bars[0].close, bars[0].volume) == (
        bar_row[0], float(bar_row[2]), float(bar_row[5]), float(bar_row[6]))
    assert (quotes[0].bid, quotes[0].bid_size, quotes[0].ask, quotes[0].ask_size) == (  # the close of the bar
        float(quote_row[5]), float(quote_row[6]), float(quote_row[10]), float(quote_row[11]))
    assert ticks[0].trade_id == 2 and ticks[1].trade_id == 3  # the file line
    assert len(bars) == len(TRADE_BARS.read_text().splitlines()) - 1
