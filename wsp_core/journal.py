"""A desk's journal of reviews on their way to the store: written before each review is handed
to the store, so that a review survives a lost connection, a server restart or a killed app.

Each review gets a client key (a UUID) when the curator gives it; the journal holds it until
the store has it (a ``done`` line), and the store keeps the key with the review
(``reviews.client_key``, unique), so a review replayed after a crash that had in fact reached
the store is not stored twice. A depth order's reviews share a ``group`` and are replayed in
one transaction, as they were first written.

The journal is a JSON-lines file per store and curator in the user's data folder
(``WSP_JOURNAL_DIR`` overrides it). Lines are appended and flushed to the operating system at
once (a killed process loses nothing; ``fsync`` after each write makes it survive a power cut
too), and the file is emptied when everything in it is in the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from .errors import WspError
from .logs import APP
from .store.db import Store, retryable, store_key
from .store.queries import add_review, add_reviews

log = logging.getLogger(__name__)


def journal_dir() -> Path:
    override = os.environ.get("WSP_JOURNAL_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False)) / "journals"


def new_key() -> str:
    return str(uuid.uuid4())


class Journal:
    """The journal of one store and one curator (see the module's text)."""

    def __init__(self, path: Path, sync: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    @classmethod
    def of(cls, store: Store | str, reviewer: str, folder: Path | None = None) -> "Journal":
        """The journal of ``store`` (a Store, or its file or URL) for ``reviewer``."""
        where = store.path if isinstance(store, Store) else store
        name = hashlib.sha1(f"{store_key(where)}\n{reviewer}".encode()).hexdigest()[:20]
        return cls((folder or journal_dir()) / f"{name}.jsonl")

    def add(self, reviews: list[dict[str, Any]], group: bool = False) -> list[dict[str, Any]]:
        """Record reviews (``pair_id``, ``verdict``, ``reason``, ``note``, ``reviewer``,
        optional ``expect``) before they are written; returns them with their ``key`` (and a
        shared ``group`` when they go to the store together)."""
        gid = new_key() if group else None
        out = [{**r, "key": r.get("key") or new_key(), "group": gid} for r in reviews]
        self._append([{"review": r} for r in out])
        return out

    def done(self, keys: list[str]) -> None:
        """These reviews are in the store."""
        if keys:
            self._append([{"done": list(keys)}])

    def _append(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        with self._lock:
            self._file.write(text)
            self._file.flush()
            if self.sync:
                os.fsync(self._file.fileno())

    def pending(self) -> list[dict[str, Any]]:
        """The journal's reviews not yet in the store, in the order they were given. A line
        cut short by a crash is the last one and is skipped."""
        reviews: dict[str, dict[str, Any]] = {}
        with self._lock:
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                log.warning("journal %s: a cut line skipped", self.path)
                continue
            if "review" in record:
                reviews[record["review"]["key"]] = record["review"]
            for key in record.get("done", ()):
                reviews.pop(key, None)
        return list(reviews.values())

    def pending_batches(self) -> list[list[dict[str, Any]]]:
        """:meth:`pending`, as they go to the store: a depth order's reviews (one ``group``)
        together, every other review alone, in order."""
        batches: list[list[dict[str, Any]]] = []
        for r in self.pending():
            group = r.get("group")
            if group is not None and batches and batches[-1][0].get("group") == group:
                batches[-1].append(r)
            else:
                batches.append([r])
        return batches

    def compact(self) -> None:
        """Empty the journal when nothing in it is still on its way."""
        if not self.pending():
            with self._lock:
                self._file.close()
                self._file = open(self.path, "w", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def write_journaled(store: Store, reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write journaled reviews (as :meth:`Journal.add` returned them) to the store: a group in
    one transaction, a single review alone. Returns what the store holds."""
    if len(reviews) == 1 and reviews[0].get("group") is None:
        r = reviews[0]
        return [add_review(store, r["pair_id"], r["verdict"], r.get("reason"), r.get("note"),
                           r.get("reviewer"), r.get("expect"), key=r["key"])]
    return add_reviews(store, reviews, "journal")


def replay(store: Store, journal: Journal) -> int:
    """Write the journal's pending reviews to the store (each once: the store knows their
    keys), in order, groups together; returns how many were pending."""
    batches = journal.pending_batches()
    for batch in batches:
        try:
            write_journaled(store, batch)
        except WspError as e:
            if retryable(e):
                raise  # still away: the journal keeps them for the next try
            # an undo whose pair another curator changed meanwhile, a pair gone: said, dropped
            log.warning("journal %s: %d reviews not written: %s", journal.path, len(batch), e)
        journal.done([r["key"] for r in batch])
    journal.compact()
    return sum(len(b) for b in batches)
