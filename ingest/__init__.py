"""Ingestion: readers, chunking, the manifest and the pipeline that keeps a collection in sync."""
import assistant  # noqa: F401  (closes network doors before heavy imports)
