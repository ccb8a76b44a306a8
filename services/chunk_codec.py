"""The cache's chunk encodings: the plain one (format 0) and the compact one (format 1).

Format 0, every chunk written before issue 16: `int64[n] time || float64[n] per column`,
little-endian, nothing else. Format 1 starts with `COMPACT_MAGIC`, whose eighth byte is 0xFF:
read as the first little-endian int64 of a plain chunk that is a negative time, which no
stored row has (times are epoch milliseconds), so the two never mix up and old files read as
they are.

Format 1 stores each column on its own (docs/backfill.md, "Compact chunks"):

- the time column as integer steps from its first value (a minute series: 60,000 again and
  again, which costs no bytes at all: every step equals the stored offset);
- a value column whose every number is a decimal with at most `MAX_DECIMALS` places (what a
  venue sends as text: "43123.45", "12.34567000") as integer steps in units of its last
  place. Decoding divides the integer by 10**d: IEEE division is correctly rounded, so
  `k / 10**d` is exactly the float parsed from the text. The encoder checks that for every
  value and otherwise falls back to:
- any other column (NaN, computed values) as raw float64.

Steps minus an offset (the middle of their range, when that narrows them) are stored in the
narrowest of 1/2/4/8 signed bytes that holds them. No zlib: inflating ran at ~60-100 MB/s
here, slower than the read itself, and the narrow steps already give ~13-25 bytes a candle
(plain: 48).
"""

from __future__ import annotations

import struct

import numpy as np

PLAIN, COMPACT = 0, 1
COMPACT_MAGIC = b"RZC\x01\x00\x00\x00\xff"
MAX_DECIMALS = 10
_KIND_INT_STEPS, _KIND_DECIMAL_STEPS, _KIND_FLOAT = 0, 1, 2
# per column: kind, decimals, byte width of a step, first value, the offset added to every
# step, payload length
_COLUMN = struct.Struct("<BBBqqI")
_EXACT_INT = 2 ** 53  # integers a float64 holds exactly


class ChunkFormatError(ValueError):
    """A chunk blob that is not what its row count and columns say."""


def chunk_format(blob: bytes | memoryview) -> int:
    return COMPACT if bytes(blob[:len(COMPACT_MAGIC)]) == COMPACT_MAGIC else PLAIN


# -- plain (format 0) ---------------------------------------------------------------------------
def encode_plain(time: np.ndarray, columns: list[np.ndarray]) -> bytes:
    parts = [time.astype("<i8", copy=False).tobytes()]
    parts.extend(col.astype("<f8", copy=False).tobytes() for col in columns)
    return b"".join(parts)


def decode_plain(n: int, k: int, blob: bytes | memoryview
                 ) -> tuple[np.ndarray, list[np.ndarray]]:
    raw = memoryview(blob)
    expected = 8 * n * (1 + k)
    if len(raw) != expected:
        raise ChunkFormatError(f"chunk has {len(raw)} bytes, expected {expected}")
    t = np.frombuffer(raw, dtype="<i8", count=n)
    return t, [np.frombuffer(raw, dtype="<f8", count=n, offset=8 * n * (i + 1))
               for i in range(k)]


# -- compact (format 1) -------------------------------------------------------------------------
_SIGNED = ((1, np.int8), (2, np.int16), (4, np.int32), (8, np.int64))
_LIMITS = tuple((width, int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
                for width, dtype in _SIGNED)


def _width(lo: int, hi: int) -> int:
    """The narrowest signed byte width holding lo..hi; 0 when every step is the same (0)."""
    if lo == hi == 0:
        return 0
    for width, least, most in _LIMITS:
        if least <= lo and hi <= most:
            return width
    raise OverflowError(f"steps {lo}..{hi} exceed int64")


def _pack_steps(values: np.ndarray) -> tuple[int, int, bytes]:
    """int64 values -> (offset, byte width, bytes) of their steps: each step is stored minus
    the offset (the middle of their range: a regular series' step, so all zeros, no bytes)."""
    steps = np.diff(values)
    if not len(steps):
        return 0, 0, b""
    lo, hi = int(steps.min()), int(steps.max())
    offset = lo + (hi - lo) // 2
    if _width(lo - offset, hi - offset) >= _width(lo, hi):
        offset = 0
    width = _width(lo - offset, hi - offset)
    if width == 0:
        return offset, 0, b""
    return offset, width, (steps - offset).astype(f"<i{width}").tobytes()


def _decimal_places(col: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(d, integers k) with k / 10**d == col bit for bit, for the smallest d; None when the
    column is not all short decimals."""
    if not np.isfinite(col).all() or (len(col) and np.abs(col).max() >= _EXACT_INT):
        return None
    d = _places(col[:64], 0)  # a sample finds the likely d in one pass over 64 values
    while d is not None:
        scale = 10.0 ** d
        scaled = np.rint(col * scale)
        if np.abs(scaled).max(initial=0.0) >= _EXACT_INT:
            return None
        ints = scaled.astype(np.int64)
        if np.array_equal(ints / scale, col):  # -0.0 == 0.0 here: checked below
            if not np.signbit(col).any() or np.array_equal(np.signbit(ints / scale),
                                                           np.signbit(col)):
                return d, ints
            return None
        d = _places(col, d + 1)
    return None


def _places(col: np.ndarray, start: int) -> int | None:
    """The smallest d >= start at which every value of `col` is k / 10**d."""
    for d in range(start, MAX_DECIMALS + 1):
        scale = 10.0 ** d
        if np.array_equal(np.rint(col * scale) / scale, col):
            return d
    return None


def encode_compact(time: np.ndarray, columns: list[np.ndarray]) -> bytes:
    """Format 1 of these rows (ascending int64 times, float64 columns of the same length)."""
    headers: list[bytes] = []
    payloads: list[bytes] = []

    def add_steps(kind: int, decimals: int, values: np.ndarray) -> None:
        offset, width, payload = _pack_steps(values)
        first = int(values[0]) if len(values) else 0
        headers.append(_COLUMN.pack(kind, decimals, width, first, offset, len(payload)))
        payloads.append(payload)

    add_steps(_KIND_INT_STEPS, 0, np.asarray(time, dtype=np.int64))
    for col in columns:
        col = np.ascontiguousarray(col, dtype=np.float64)
        decimal = _decimal_places(col) if len(col) else None
        if decimal is not None:
            add_steps(_KIND_DECIMAL_STEPS, *decimal)
        else:
            payload = col.astype("<f8", copy=False).tobytes()
            headers.append(_COLUMN.pack(_KIND_FLOAT, 0, 8, 0, 0, len(payload)))
            payloads.append(payload)
    return b"".join([COMPACT_MAGIC, *headers, *payloads])


def decode_compact(n: int, k: int, blob: bytes | memoryview
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    time = np.empty(n, dtype=np.int64)
    columns = [np.empty(n, dtype=np.float64) for _ in range(k)]
    decode_into(n, k, blob, time, columns)
    return time, columns


def decode_into(n: int, k: int, blob: bytes | memoryview, time: np.ndarray,
                columns: list[np.ndarray]) -> None:
    """Decode a chunk of either format straight into `time` (int64[n]) and `columns`
    (float64[n] each): a read fills one array per column without a second copy."""
    raw = memoryview(blob)
    if chunk_format(raw) == PLAIN:
        t, cols = decode_plain(n, k, raw)
        time[:] = t
        for dst, src in zip(columns, cols, strict=True):
            dst[:] = src
        return
    offset = len(COMPACT_MAGIC)
    try:
        headers = [_COLUMN.unpack_from(raw, offset + i * _COLUMN.size) for i in range(k + 1)]
    except struct.error as e:
        raise ChunkFormatError(f"compact chunk header cut short ({e})") from None
    offset += (k + 1) * _COLUMN.size
    steps = max(n - 1, 0)
    for i, (kind, decimals, width, first, step_offset, length) in enumerate(headers):
        out = time if i == 0 else columns[i - 1]
        if kind == _KIND_FLOAT and i > 0:
            if length != 8 * n or offset + length > len(raw):
                raise ChunkFormatError(f"float column holds {length} bytes, expected {8 * n}")
            out[:] = np.frombuffer(raw, dtype="<f8", count=n, offset=offset)
            offset += length
            continue
        if kind not in (_KIND_INT_STEPS, _KIND_DECIMAL_STEPS) or width not in (0, 1, 2, 4, 8):
            raise ChunkFormatError(f"compact chunk: column kind {kind}, width {width}")
        if length != width * steps or offset + length > len(raw):
            raise ChunkFormatError(f"column holds {length} bytes, expected {width * steps}")
        ints = out if i == 0 else np.empty(n, dtype=np.int64)
        if n:
            ints[0] = first
            if width == 0:  # every step equals the offset
                np.multiply(np.arange(1, n, dtype=np.int64), step_offset, out=ints[1:])
            else:
                words = np.frombuffer(raw, dtype=f"<i{width}", count=steps, offset=offset)
                np.cumsum(words, dtype=np.int64, out=ints[1:])
                if step_offset:
                    ints[1:] += np.arange(1, n, dtype=np.int64) * step_offset
            ints[1:] += first
        offset += length
        if i > 0:
            if kind == _KIND_DECIMAL_STEPS:
                np.divide(ints, 10.0 ** decimals, out=out)
            else:
                out[:] = ints
    if offset != len(raw):
        raise ChunkFormatError(f"compact chunk has {len(raw) - offset} bytes more than its "
                               "columns")


def encode(fmt: int, time: np.ndarray, columns: list[np.ndarray]) -> bytes:
    return encode_compact(time, columns) if fmt == COMPACT else encode_plain(time, columns)


def decode(n: int, k: int, blob: bytes | memoryview) -> tuple[np.ndarray, list[np.ndarray]]:
    """(time, columns) of a chunk of either format: `n` rows, `k` value columns."""
    if chunk_format(blob) == COMPACT:
        return decode_compact(n, k, blob)
    return decode_plain(n, k, blob)
