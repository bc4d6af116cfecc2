"""Append-only local journal of pending writes, used while the database is unreachable.

Frames: 4-byte big-endian length + one msgpack-encoded op. One append = one write + fsync, so a
batch of spilled ops is on disk before the caller goes on. A torn last frame (crash mid-append)
is cut off when the journal is opened; every complete frame before it is kept.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Sequence
from pathlib import Path

import msgspec

from cluster.foundation.storage.db.ops import Op

log = logging.getLogger("trading.db")
_HEADER = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_decoder: msgspec.msgpack.Decoder[Op] = msgspec.msgpack.Decoder(Op)


class Journal:
    """Not thread-safe by itself: the writer calls it under its queue lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a+b")  # noqa: SIM115 - held open for the writer's lifetime
        self.max_seq, self.frames = self._recover()
        self.read_offset = 0

    def _recover(self) -> tuple[int, int]:
        """Validate every frame; cut a torn tail; return (highest seq, frame count)."""
        offset, max_seq, frames = 0, 0, 0
        size = self.size()
        while offset < size:
            ops, next_offset = self._read(offset, 1)
            if not ops:
                log.warning("journal %s: torn frame at byte %d of %d cut off", self.path, offset, size)
                self._fh.truncate(offset)
                self._sync()
                break
            max_seq, frames, offset = max(max_seq, ops[0].seq), frames + 1, next_offset
        return max_seq, frames

    def size(self) -> int:
        return os.fstat(self._fh.fileno()).st_size

    def unread(self) -> bool:
        return self.read_offset < self.size()

    def append(self, ops: Sequence[Op]) -> None:
        if not ops:
            return
        chunks = []
        for op in ops:
            body = _encoder.encode(op)
            chunks.append(_HEADER.pack(len(body)))
            chunks.append(body)
        self._fh.seek(0, os.SEEK_END)
        self._fh.write(b"".join(chunks))
        self._sync()
        self.frames += len(ops)
        self.max_seq = max(self.max_seq, max(op.seq for op in ops))

    def _read(self, offset: int, max_ops: int) -> tuple[list[Op], int]:
        self._fh.seek(offset)
        ops: list[Op] = []
        while len(ops) < max_ops:
            header = self._fh.read(_HEADER.size)
            if len(header) < _HEADER.size:
                break
            (length,) = _HEADER.unpack(header)
            body = self._fh.read(length)
            if len(body) < length:
                break
            try:
                ops.append(_decoder.decode(body))
            except msgspec.DecodeError:
                break
            offset += _HEADER.size + length
        return ops, offset

    def read_next(self, max_ops: int) -> tuple[list[Op], int]:
        """Up to max_ops ops from the read position, and the offset after them (not yet consumed)."""
        return self._read(self.read_offset, max_ops)

    def consume(self, offset: int) -> None:
        """Mark everything before `offset` as written to the DB; empty the file once all is."""
        self.read_offset = offset
        if self.read_offset >= self.size():
            self._fh.truncate(0)
            self._sync()
            self.read_offset, self.frames = 0, 0

    def _sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()
