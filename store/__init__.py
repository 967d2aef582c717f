"""The archive in SQLite: schema, incremental ingest, and BM25 search."""

from store.db import StoreError
from store.ingest import IndexReport, Problem, index_archive
from store.store import Found, IndexRun, Stats, Store

__all__ = ["Found", "IndexReport", "IndexRun", "Problem", "Stats", "Store", "StoreError", "index_archive"]
