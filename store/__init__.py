"""The archive in SQLite or PostgreSQL: schema, incremental ingest, and BM25 search."""

from store.db import StoreError
from store.ingest import IndexBusy, IndexReport, Problem, ShrinkRefused, index_archive
from store.store import Found, IndexRun, Stats, Store

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
