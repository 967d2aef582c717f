"""The search index's arrays in one file beside the SQLite store, memory-mapped as they are stored.

Loading the index from the posting rows takes several hundred ms; mapping this file takes a
few. The file is a cache, never the truth: it is keyed by the index run that wrote the rows
(the `index_token` setting, a random token written in the same transaction as the rows), and
is read only when that token, the format and every size and checksum agree. Otherwise it is
rebuilt from the rows by whoever loads the index next.

Layout: MAGIC, the header's length (4 bytes, little-endian), the header (JSON: format, token,
each array's name, type, length and offset in the data, the data's size and checksum), then
the data: the arrays one after another, each starting at a multiple of ALIGN bytes.

It is written to a temporary file in the same folder and renamed over the old one: a process
that has the old file mapped keeps reading it unchanged, and no reader sees half a file.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger("newsbot.store")

MAGIC = b"newsbot-search\x00\x00"
FORMAT = 1
ALIGN = 64
SUFFIX = ".search"


def index_file(db: str | Path) -> Path:
    """Where the index file of the SQLite store at `db` lives: beside it."""
    db = Path(db)
    return db.with_name(db.name + SUFFIX)


def checksum(data: memoryview | bytes) -> int:
    """The 64-bit sum of the data's little-endian 8-byte words (its length is a multiple of 8):
    one fast pass that catches damage (a changed, zeroed or lost word), not tampering."""
    words = np.frombuffer(data, dtype="<u8")
    return int(np.add.reduce(words, dtype=np.uint64)) if len(words) else 0


def write_index_file(path: Path, token: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Save the arrays for the index run `token`, atomically (temporary file, then rename)."""
    entries, offset = [], 0
    for name, array in arrays.items():
        entries.append([name, array.dtype.str, len(array), offset])
        offset += _padded(array.nbytes)
    data = bytearray(offset)
    for (_, _, _, start), array in zip(entries, arrays.values()):
        data[start : start + array.nbytes] = np.ascontiguousarray(array).tobytes()
    header = json.dumps(
        {"format": FORMAT, "token": token, "arrays": entries, "size": offset, "checksum": checksum(data)}
    ).encode()
    header += b" " * (_padded(len(MAGIC) + 4 + len(header)) - len(MAGIC) - 4 - len(header))
    partial = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        with open(partial, "wb") as out:
            out.write(MAGIC + len(header).to_bytes(4, "little") + header)
            out.write(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def read_index_file(path: Path, token: str, expected: Mapping[str, str]) -> dict[str, np.ndarray] | None:
    """The arrays saved for the index run `token`, mapped read-only, if the file is there and
    whole: the same format, token, array names and types (`expected`), sizes and checksum.
    None otherwise (missing, written for another index, another format, truncated or damaged)."""
    try:
        with open(path, "rb") as file:
            if os.fstat(file.fileno()).st_size < len(MAGIC) + 4:
                return None
            mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    try:
        return _arrays(memoryview(mapped), token, expected)
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as error:
        log.info("search index file %s not used (%s): rebuilding it", path, error)
        return None


def _arrays(view: memoryview, token: str, expected: Mapping[str, str]) -> dict[str, np.ndarray] | None:
    if view[: len(MAGIC)] != MAGIC:
        raise ValueError("not a search index file")
    length = int.from_bytes(view[len(MAGIC) : len(MAGIC) + 4], "little")
    start = len(MAGIC) + 4 + length
    header = json.loads(bytes(view[len(MAGIC) + 4 : start]))
    if header["format"] != FORMAT:
        raise ValueError(f"format {header['format']}, not {FORMAT}")
    if header["token"] != token:
        return None  # written for another index run: stale, not damaged
    size = header["size"]
    if start % ALIGN or len(view) != start + size:
        raise ValueError(f"{len(view)} bytes where the header says {start + size}")
    entries = header["arrays"]
    if [(name, np.dtype(kind)) for name, kind, _, _ in entries] != [(n, np.dtype(k)) for n, k in expected.items()]:
        raise ValueError("other arrays than this version's")
    data = view[start:]
    if checksum(data) != header["checksum"]:
        raise ValueError("checksum differs")
    arrays, end = {}, 0
    for name, kind, count, offset in entries:
        dtype = np.dtype(kind)
        if offset != end or count < 0 or offset + count * dtype.itemsize > size:
            raise ValueError(f"array {name} out of place")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        end = offset + _padded(count * dtype.itemsize)
    return arrays


def _padded(size: int) -> int:
    return -(-size // ALIGN) * ALIGN
