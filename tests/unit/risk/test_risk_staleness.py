from actors.risk.staleness import book_is_stale

S = 1_000_000_000


def test_book_is_stale_when_every_held_symbol_is_older_than_the_limit_then_true():
    assert book_is_stale(["SPY", "IBM"], {"SPY": 0, "IBM": 10 * S}, now_ns=400 * S, stale_ns=300 * S)


def test_book_is_stale_when_one_held_symbol_is_fresh_then_false():
    assert not book_is_stale(["SPY", "IBM"], {"SPY": 0, "IBM": 200 * S}, now_ns=400 * S, stale_ns=300 * S)


def test_book_is_stale_when_nothing_is_held_then_false():
    assert not book_is_stale([], {}, now_ns=10**12 * S, stale_ns=300 * S)


def test_book_is_stale_when_a_held_symbol_never_had_a_price_then_it_counts_as_stale():
    assert book_is_stale(["BAC"], {}, now_ns=1, stale_ns=300 * S)
