"""Jobs in the store, so the app lists jobs started anywhere: every ``wsp-core`` command given
``--db`` writes its row (:class:`CommandJob`); training runs write theirs from their start, with
their run folder and manifest (wsp_core/train/runner.py).

A job whose process was killed (SIGKILL, the OOM killer, a power cut) stays ``running`` in the
table; :func:`list_jobs` shows it as ``died`` when its run folder's heartbeat says the process
is gone (wsp_core/heartbeat.py), and as resumable when the folder holds a ``last.pt``.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ..errors import WspError
from ..progress import finite_or_null
from .db import Store, is_server, open_store, store_target
from .models import Job, utcnow

log = logging.getLogger(__name__)

#: Job kinds that train, and so can be resumed from their run folder's last.pt. They record
#: their own job (with the run folder and the manifest's digest) from their first epoch.
TRAINING_KINDS = ("pretrain", "finetune")
#: A result larger than this (as JSON) is left out of the jobs table (the run folder has it).
MAX_RESULT_CHARS = 20000


def start_job(store: Store, kind: str, config: dict[str, Any], run_dir: Path | None,
              manifest_sha256: str | None = None, started_at: datetime | None = None) -> int:
    """Record a job as running. A training run's row is reused when it resumes (same kind
    and run folder); every other job gets a row of its own."""
    folder = str(Path(run_dir).resolve()) if run_dir is not None else None
    with store.write() as session:
        job = None
        if kind in TRAINING_KINDS and folder is not None:
            job = session.scalars(select(Job).where(Job.kind == kind, Job.run_dir == folder)
                                  ).one_or_none()
        if job is None:
            job = Job(kind=kind, config=config, run_dir=folder)
            session.add(job)
        job.status, job.pid, job.error = "running", os.getpid(), None
        job.started_at = started_at or utcnow()
        job.manifest_sha256 = manifest_sha256
        session.flush()
        return job.id


def finish_job(store: Store, job_id: int, status: str, metrics: dict[str, Any] | None,
               error: str | None = None) -> None:
    with store.write() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status, job.finished_at, job.error = status, utcnow(), error
        if metrics is not None:
            job.metrics = finite_or_null(metrics)


def small_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A result small enough for the jobs table (large ones are left to the run folder)."""
    if result is None:
        return None
    text = json.dumps(finite_or_null(result), default=str, allow_nan=False)
    return json.loads(text) if len(text) <= MAX_RESULT_CHARS else \
        {"note": "result too large to keep here"}


class CommandJob:
    """A ``wsp-core`` command given ``--db``, as a row of that store's jobs table.

    The row is written when the command ends well (status ``finished``, its start time, its
    words, its ``--json`` result): a command that is refused or fails leaves the store exactly
    as it was (the log file records it, wsp_core/logs.py). Training commands are left to the
    runner, which records them from their start. Recording never stops a command: a store that
    cannot take the row (read-only, damaged, busy for too long) is left alone, and the log says
    why.
    """

    def __init__(self, command: str, db: str | os.PathLike[str] | None, words: list[str]) -> None:
        self.command, self.words = command, words
        self.db = store_target(str(db)) if db is not None and command not in TRAINING_KINDS \
            else None
        self.started_at = utcnow()
        self.id: int | None = None

    def end(self, status: str, result: dict[str, Any] | None = None,
            error: str | None = None) -> None:
        if self.db is None or status != "finished" or not (is_server(self.db) or
                                                           self.db.is_file()):
            return
        try:
            with open_store(self.db, create=False) as store:
                self.id = start_job(store, self.command, {"argv": self.words}, None,
                                    started_at=self.started_at)
                finish_job(store, self.id, status, small_result(result), error)
        except (WspError, OSError) as e:
            log.warning("the %s job is not recorded in %s: %s", self.command, self.db, e)


def list_jobs(store: Store) -> list[dict[str, Any]]:
    """Every job; ``status`` is ``died`` for a running job whose process is gone, and
    ``resumable`` says whether ``--resume`` can continue it."""
    with store.read() as session:
        rows = [{"id": j.id, "kind": j.kind, "status": j.status, "run_dir": j.run_dir,
                 "metrics": j.metrics, "created_at": j.created_at.isoformat() + "Z",
                 "error": j.error, "pid": j.pid} for j in session.scalars(select(Job).order_by(Job.id))]
    for row in rows:  # files are read outside the transaction
        if row["status"] == "running" and _process_gone(row["run_dir"]):
            row["status"] = "died"
        row["resumable"] = row["kind"] in TRAINING_KINDS and row["run_dir"] is not None \
            and row["status"] in ("stopped", "failed", "died") \
            and (Path(row["run_dir"]) / "last.pt").is_file()
    return rows

def _process_gone(run_dir: str | None) -> bool:
    from ..heartbeat import read_heartbeat, run_is_dead

    info = read_heartbeat(run_dir) if run_dir else None
    return info is not None and run_is_dead(info)
