"""Training and evaluation jobs in the store, so the app lists jobs started anywhere.

A job whose process was killed (SIGKILL, the OOM killer, a power cut) stays ``running`` in the
table; :func:`list_jobs` shows it as ``died`` when its run folder's heartbeat says the process
is gone (wsp_core/heartbeat.py), and as resumable when the folder holds a ``last.pt``.
"""

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


#: Job kinds that train, and so can be resumed from their run folder's last.pt.
TRAINING_KINDS = ("pretrain", "finetune")


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
