"""The feed's pure parts: frame parsing (JSON stamps, msgpack timestamp forms, one bad message
among good ones, crypto order books) and the sequencer that merges a backfill with live bars."""

from __future__ import annotations

import json
import struct
from functools import cache

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.market_data.alpaca_feed_parse import FeedParser, ext_to_ns, rfc3339_to_ns
from actors.market_data.alpaca_feed_sequence import FeedSequencer
from cluster.foundation.domain.wire import Bar, BookUpdate, Quote, Trade
from tests.alpaca.conftest import TRADE_BARS
from tests.alpaca.feed_support import csv_bars, iso_ns

STAMP_NS = 1381152644_208000001  # 2013-10-07T13:30:44.208000001Z


def test_rfc3339_when_nine_fraction_digits_then_every_nanosecond_is_kept() -> None:
    assert rfc3339_to_ns("2013-10-07T13:30:44.208000001Z") == STAMP_NS
    assert rfc3339_to_ns("2013-10-07T13:30:44.208Z") == STAMP_NS - 1
    assert rfc3339_to_ns("2013-10-07T09:30:44.208000001-04:00") == STAMP_NS  # slow path, offset


def test_ext_to_ns_when_32_64_or_96_bit_form_then_same_instant() -> None:
    seconds, nanos = divmod(STAMP_NS, 1_000_000_000)
    forms = [struct.pack(">Q", (nanos << 34) | seconds), struct.pack(">Iq", nanos, seconds)]
    assert [ext_to_ns(msgspec.msgpack.Ext(-1, data)) for data in forms] == [STAMP_NS, STAMP_NS]
    assert ext_to_ns(msgspec.msgpack.Ext(-1, struct.pack(">I", seconds))) == seconds * 1_000_000_000


def test_parse_when_doc_examples_then_trade_quote_bar_in_wire_types() -> None:
    frame = json.dumps([
        {"T": "t", "S": "AAPL", "i": 96921, "x": "D", "p": 126.55, "s": 1, "t": "2021-02-22T15:51:44.208Z",
         "c": ["@", "I"], "z": "C"},
        {"T": "q", "S": "AMD", "bx": "U", "bp": 87.66, "bs": 1, "ax": "Q", "ap": 87.68, "as": 4,
         "t": "2021-02-22T15:51:45.335689322Z", "c": ["R"], "z": "C"},
        {"T": "b", "S": "SPY", "o": 388.985, "h": 389.13, "l": 388.975, "c": 389.12, "v": 49378,
         "t": "2021-02-22T19:15:00Z", "n": 461, "vw": 389.06},
    ])
    parsed = FeedParser(msgpack=False).parse(frame)
    assert parsed.items == [
        Trade("AAPL", iso_ns("2021-02-22T15:51:44Z") + 208_000_000, 126.55, 1.0, "D"),
        Quote("AMD", iso_ns("2021-02-22T15:51:45Z") + 335_689_322, 87.66, 1.0, 87.68, 4.0, "U", "Q"),
        Bar("SPY", iso_ns("2021-02-22T19:15:00Z"), 388.985, 389.13, 388.975, 389.12, 49378.0, 461, 389.06),
    ]
    assert parsed.problems == []


def test_parse_when_one_message_is_bad_then_only_it_is_dropped_and_named() -> None:
    good = {"T": "b", "S": "SPY", "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 3,
            "t": msgspec.msgpack.Ext(-1, struct.pack(">I", 1_381_152_600))}
    inverted = {**good, "h": 0.1}
    frame = msgspec.msgpack.encode([good, {"T": "q", "S": "SPY"}, {"T": "??"}, inverted, {"T": "s", "S": "SPY"}])
    parsed = FeedParser(msgpack=True).parse(frame)
    assert [item.ts_ns for item in parsed.items] == [1_381_152_600 * 1_000_000_000]
    assert [p.kind for p in parsed.problems] == ["bad_message", "unknown_type", "bad_message"]
    assert "low 0.5 above high 0.1" in parsed.problems[2].detail
    assert parsed.ignored == 1  # a trading status: known, not turned into a wire message


def test_parse_when_orderbook_reset_then_levels_update_and_size_zero_removes() -> None:
    parser = FeedParser(msgpack=False)
    snap = [{"T": "o", "S": "BTC/USD", "t": "2018-04-04T00:00:00Z", "r": True,
             "b": [{"p": 6800.0, "s": 1.0}, {"p": 6799.0, "s": 2.0}], "a": [{"p": 6801.0, "s": 0.5}]}]
    delta = [{"T": "o", "S": "BTC/USD", "t": "2018-04-04T00:00:01Z", "b": [{"p": 6800.0, "s": 0}],
              "a": [{"p": 6802.0, "s": 3.0}]}]
    parser.parse(json.dumps(snap))
    update = parser.parse(json.dumps(delta)).items[0]
    assert update == BookUpdate("BTC/USD", iso_ns("2018-04-04T00:00:01Z"), [(6799.0, 2.0)],
                                [(6801.0, 0.5), (6802.0, 3.0)])
    again = parser.parse(json.dumps(snap)).items[0]
    assert isinstance(again, BookUpdate) and again.asks == [(6801.0, 0.5)]  # reset forgets 6802


@cache
def _real_bars() -> list[Bar]:
    rows = csv_bars(TRADE_BARS, {"SPY", "IBM"}, "2013-10-07T13:30:00Z", "2013-10-07T14:10:00Z")
    rows.sort(key=lambda r: r["timestamp"])  # the order a live socket carries them
    return [Bar(r["symbol"], iso_ns(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]),
                float(r["close"]), float(r["volume"])) for r in rows]


def test_sequencer_when_live_bar_also_backfilled_then_delivered_once_and_backfill_first() -> None:
    bars = _real_bars()
    spy = [b for b in bars if b.symbol == "SPY"]
    seq = FeedSequencer()
    seq.live(spy[:2])
    seq.hold()
    held = seq.live(spy[4:6])
    released = seq.release(spy[1:5])  # overlaps both what was delivered and what is held
    assert held.delivered == []
    assert [(b.ts_ns, b.backfilled) for b in released.delivered] == [
        (spy[2].ts_ns, True), (spy[3].ts_ns, True), (spy[4].ts_ns, True), (spy[5].ts_ns, False)]
    assert (seq.backfill_overlap, seq.duplicates, seq.out_of_order) == (1, 1, 0)


def test_sequencer_when_quote_goes_back_in_time_then_dropped_and_reported() -> None:
    seq = FeedSequencer()
    first, late = Quote("IBM", 2_000, 181.5, 100, 181.6, 200), Quote("IBM", 1_000, 181.4, 100, 181.5, 200)
    result = seq.live([first, late, Quote("SPY", 1_000, 167.4, 1, 167.5, 1)])
    assert [q.symbol for q in result.delivered] == ["IBM", "SPY"]
    assert [(o.kind, o.symbol, o.ts_ns, o.last_ts_ns) for o in result.out_of_order] == [("quote", "IBM", 1_000, 2_000)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_sequencer_when_outage_anywhere_then_every_real_bar_exactly_once_in_order(data: st.DataObject) -> None:
    bars = list(_real_bars())
    cut = data.draw(st.integers(0, len(bars)), label="bars delivered before the outage")
    resume = data.draw(st.integers(cut, len(bars)), label="first bar the new socket carries")
    overlap = data.draw(st.integers(0, len(bars) - resume), label="bars both backfilled and live")
    seq = FeedSequencer()
    out = list(seq.live(bars[:cut]).delivered)
    seq.hold()
    out += seq.live(bars[resume:]).delivered
    out += seq.release(bars[cut:resume + overlap]).delivered
    for symbol in ("SPY", "IBM"):  # order is promised per symbol
        assert [b.ts_ns for b in out if b.symbol == symbol] == [b.ts_ns for b in bars if b.symbol == symbol]
    assert len(out) == len(bars)
    backfilled = {(b.symbol, b.ts_ns) for b in bars[cut:resume + overlap]}
    assert {(b.symbol, b.ts_ns) for b in out if b.backfilled} == backfilled
