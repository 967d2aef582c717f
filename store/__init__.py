"""The archive in SQLite or PostgreSQL: schema, incremental ingest, and BM25 search."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from store.db import StoreError
from store.store import Found, IndexRun, Stats, Store

if TYPE_CHECKING:
    from store.ingest import IndexBusy, IndexReport, Problem, ShrinkRefused, index_archive

__all__ = [
    "Found",
    "IndexBusy",
    "IndexReport",
    "IndexRun",
    "Problem",
    "ShrinkRefused",
    "Stats",
    "Store",
    "StoreError",
    "index_archive",
]

INGEST = {"IndexBusy", "IndexReport", "Problem", "ShrinkRefused", "index_archive"}


def __getattr__(name: str) -> Any:
    """The index run's names, imported when first asked for: a search never needs store.ingest
    (nor the process pool and archive scanning it brings), and a new process starts sooner."""
    if name in INGEST:
        import store.ingest

        value = globals()[name] = getattr(store.ingest, name)
        return value
    raise AttributeError(f"module 'store' has no attribute {name!r}")
