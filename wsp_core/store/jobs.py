"""Training and evaluation jobs in the store, so the app lists jobs started anywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .db import Store
from .models import Job, utcnow


def start_job(store: Store, kind: str, config: dict[str, Any], run_dir: Path,
              manifest_sha256: str | None = None) -> int:
    """Record a job as running (the same run folder's row is reused on resume)."""
    with store.write() as session:
        job = session.scalars(select(Job).where(Job.kind == kind,
                                                Job.run_dir == str(Path(run_dir).resolve()))
                              ).one_or_none()
        if job is None:
            job = Job(kind=kind, config=config, run_dir=str(Path(run_dir).resolve()))
            session.add(job)
        job.status, job.pid, job.started_at, job.error = "running", os.getpid(), utcnow(), None
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
            job.metrics = metrics


def list_jobs(store: Store) -> list[dict[str, Any]]:
    with store.read() as session:
        return [{"id": j.id, "kind": j.kind, "status": j.status, "run_dir": j.run_dir,
                 "metrics": j.metrics, "created_at": j.created_at.isoformat() + "Z",
                 "error": j.error} for j in session.scalars(select(Job).order_by(Job.id))]
