"""CSV files from outside: every bad row is a DataError naming file:line, nothing else is ever raised."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from mutations import byte_mutations

from alpaca_sim.data import read_events
from cluster.foundation.domain.errors import DataError
from cluster.foundation.storage.market_files import KNOWN_HEADERS, read_file

FUZZ = settings.get_profile("fuzz")
DATA = Path(__file__).resolve().parents[2] / "data"
SHIPPED = sorted(DATA.glob("*.csv"))
SEED_ROWS = {path.name: path.read_bytes().split(b"\n")[:12] for path in SHIPPED}


def _read_all(content: bytes) -> tuple[list[object], list[DataError], int]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(content)
        lines = len(content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))  # CR ends a line too
        errors: list[DataError] = []
        try:
            delivered = list(read_file(path, on_error=errors.append))
        except DataError as exc:  # only a header problem is raised with a callback
            assert (exc.source, exc.line) == (str(path), 1)
            return [], [exc], lines
        for error in errors:
            assert error.source == str(path) and 2 <= error.line <= lines
        return delivered, errors, lines


@FUZZ
@given(header=st.sampled_from(KNOWN_HEADERS), body=st.binary(max_size=1024))
def test_read_file_when_rows_are_arbitrary_bytes_then_only_data_errors(header: str, body: bytes) -> None:
    _read_all(header.encode() + b"\n" + body)


@FUZZ
@given(content=st.binary(max_size=512))
def test_read_file_when_the_whole_file_is_arbitrary_bytes_then_only_data_errors(content: bytes) -> None:
    _read_all(content)


@FUZZ
@given(data=st.data())
def test_read_file_when_shipped_rows_are_mutated_then_only_data_errors_and_prices_stay_positive(
        data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SEED_ROWS)))
    rows = SEED_ROWS[name]
    header, body = rows[0], b"\n".join(rows[1:])
    delivered, _, _ = _read_all(header + b"\n" + data.draw(byte_mutations(body)))
    for message in delivered:
        for field in ("open", "high", "low", "close", "bid", "ask", "price"):
            value = getattr(message, field, None)
            assert value is None or 0 < value < float("inf")


@FUZZ
@given(data=st.data())
def test_read_file_without_callback_when_rows_are_mutated_then_raises_only_data_error(data: st.DataObject) -> None:
    rows = SEED_ROWS[data.draw(st.sampled_from(sorted(SEED_ROWS)))]
    content = rows[0] + b"\n" + data.draw(byte_mutations(b"\n".join(rows[1:])))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(content)
        try:
            list(read_file(path))
        except DataError as exc:
            assert str(exc).startswith(f"{path}:")


@FUZZ
@given(data=st.data())
def test_simulator_read_events_when_rows_are_arbitrary_or_mutated_then_only_data_errors(data: st.DataObject) -> None:
    """The simulator reads through the same reader: a bad row is a DataError, never a price it serves."""
    rows = SEED_ROWS[data.draw(st.sampled_from(sorted(SEED_ROWS)))]
    body = data.draw(st.one_of(byte_mutations(b"\n".join(rows[1:])), st.binary(max_size=512)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(rows[0] + b"\n" + body)
        try:
            events = read_events(path)
        except DataError as exc:
            assert exc.source == str(path)
            return
    for event in events:
        for field in ("open", "high", "low", "close", "bid", "ask", "price"):
            value = getattr(event, field, None)
            assert value is None or 0 < value < float("inf")
