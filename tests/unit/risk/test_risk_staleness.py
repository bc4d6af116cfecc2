from actors.risk.staleness import book_is_stale, in_regular_session

S = 1_000_000_000
MON_1100_NY = 1_381_158_000_000_000_000  # 2013-10-07 11:00 America/New_York (15:00Z)
MON_2200_NY = MON_1100_NY + 11 * 3600 * S
SAT_1100_NY = MON_1100_NY - 2 * 86400 * S


def test_book_is_stale_when_every_held_symbol_is_older_than_the_limit_in_session_then_true():
    now = MON_1100_NY
    assert book_is_stale(["SPY", "IBM"], {"SPY": now - 400 * S, "IBM": now - 301 * S}, now, 300 * S)


def test_book_is_stale_when_one_held_symbol_is_fresh_then_false():
    now = MON_1100_NY
    assert not book_is_stale(["SPY", "IBM"], {"SPY": now - 400 * S, "IBM": now - 10 * S}, now, 300 * S)


def test_book_is_stale_when_nothing_is_held_then_false():
    assert not book_is_stale([], {}, MON_1100_NY, 300 * S)


def test_book_is_stale_when_a_held_symbol_never_had_a_price_then_it_counts_as_stale():
    assert book_is_stale(["BAC"], {}, MON_1100_NY, 300 * S)


def test_book_is_stale_when_equity_market_is_closed_then_silence_is_normal():
    assert not book_is_stale(["SPY"], {"SPY": MON_2200_NY - 3600 * S}, MON_2200_NY, 300 * S)
    assert not book_is_stale(["SPY"], {"SPY": SAT_1100_NY - 86400 * S}, SAT_1100_NY, 300 * S)


def test_in_regular_session_when_crypto_then_always():
    assert in_regular_session("BTC/USD", SAT_1100_NY)
    assert not in_regular_session("SPY", SAT_1100_NY)
    assert in_regular_session("SPY", MON_1100_NY)


def test_book_is_stale_when_session_just_opened_then_silence_counts_from_the_open():
    open_0930 = MON_1100_NY - 90 * 60 * S
    friday_close = open_0930 - (2 * 86400 + 17 * 3600 + 1800) * S
    assert not book_is_stale(["SPY"], {"SPY": friday_close}, open_0930 + 60 * S, 300 * S)
    assert book_is_stale(["SPY"], {"SPY": friday_close}, open_0930 + 301 * S, 300 * S)
