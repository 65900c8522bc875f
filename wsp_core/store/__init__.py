"""The label store: SQLite through SQLAlchemy 2.0, schema by Alembic migrations."""

from .db import SCHEMA_REVISION, Store, migrate, open_store
from .importer import ImportReport, import_source, label_source
from ..verdicts import REASONS, STATUSES, VERDICTS
from .queries import (add_review, add_reviews, check_effective_labels, export_jsonl, iter_export,
                      pair_history, stats)

__all__ = [
    "ImportReport", "REASONS", "SCHEMA_REVISION", "STATUSES", "Store", "VERDICTS", "add_review",
    "add_reviews",
    "check_effective_labels", "export_jsonl", "import_source", "iter_export", "label_source",
    "migrate", "open_store", "pair_history", "stats",
]
