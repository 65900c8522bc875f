"""The label store's tables (SQLAlchemy 2.0 typed models). See docs/DATA_MODEL.md.

The schema itself is created and changed only by the Alembic migrations in
``wsp_core/store/migrations``; a test checks that they and these models agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer,
                        SmallInteger, String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..verdicts import REASONS, STATUSES, VERDICTS

JOB_STATUSES = ("queued", "running", "finished", "failed", "stopped")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Meta(Base):
    """Key/value facts about the store; ``app = wsp-studio`` marks a file as a WSP store."""

    __tablename__ = "wsp_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Source(Base):
    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    format: Mapped[str] = mapped_column(String(32))
    ann_path: Mapped[str] = mapped_column(Text)
    images_dir: Mapped[str] = mapped_column(Text)
    ann_sha256: Mapped[str] = mapped_column(String(64))
    joint_names: Mapped[list[Any]] = mapped_column(JSON)
    images_read: Mapped[int] = mapped_column(Integer, default=0)
    persons_read: Mapped[int] = mapped_column(Integer, default=0)
    #: the last import's decisions by reason: {reason: {count, example}} (formats.ReadNotes)
    import_notes: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("source_id", "key", name="uq_images_source_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(Text)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    intrinsics: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("image_id", "ann_key", name="uq_persons_image_ann"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    ann_key: Mapped[str] = mapped_column(String(200))
    bbox_x: Mapped[float] = mapped_column(Float)
    bbox_y: Mapped[float] = mapped_column(Float)
    bbox_w: Mapped[float] = mapped_column(Float)
    bbox_h: Mapped[float] = mapped_column(Float)
    keypoints: Mapped[list[Any]] = mapped_column(JSON)
    mcpc: Mapped[bool] = mapped_column(SmallInteger)
    ankle_y: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    scale: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    scale_kind: Mapped[int] = mapped_column(SmallInteger, default=0)
    keypoints_cam: Mapped[Optional[list[Any]]] = mapped_column(JSON, nullable=True)
    extra: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    # pose hints from the 2D keypoints (wsp_core.perspective.pose; schema 0007): NULL = unknown
    knee_angle: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    hip_angle: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    torso_tilt: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    leg_drop: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    labelled_share: Mapped[Optional[float]] = mapped_column(Float, nullable=True)


#: The persons columns an import writes, in the order of its rows (store.importer._person_rows);
#: an explicit update (store.provenance) rewrites all but the first two.
PERSON_IMPORT_COLUMNS = ("image_id", "ann_key", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
                         "keypoints", "mcpc", "ankle_y", "scale", "scale_kind", "extra",
                         "keypoints_cam", "knee_angle", "hip_angle", "torso_tilt", "leg_drop",
                         "labelled_share")


class Pair(Base):
    """A candidate pair. ``status`` and ``label`` cache the latest review (see add_review)."""

    __tablename__ = "pairs"
    __table_args__ = (
        UniqueConstraint("person_a", "person_b", name="uq_pairs_persons"),
        CheckConstraint("auto_label IN (0, 1)", name="ck_pairs_auto_label"),
        CheckConstraint("label IS NULL OR label IN (0, 1)", name="ck_pairs_label"),
        CheckConstraint(_in("status", STATUSES), name="ck_pairs_status"),
        Index("ix_pairs_source_status", "source_id", "status"),
        Index("ix_pairs_delta_s", "delta_s"),
        Index("ix_pairs_suspicion", "suspicion"),
        Index("ix_pairs_image", "image_id"),
        Index("ix_pairs_status", "status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"))
    person_a: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    person_b: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    auto_label: Mapped[int] = mapped_column(SmallInteger)
    margin_px: Mapped[float] = mapped_column(Float)
    margin_rel: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    delta_s: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    hug: Mapped[float] = mapped_column(Float)
    size_conflict: Mapped[float] = mapped_column(Float)
    knee_line: Mapped[float] = mapped_column(Float)
    raised_ground: Mapped[float] = mapped_column(Float, server_default="0")
    suspicion: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="auto")
    label: Mapped[Optional[int]] = mapped_column(SmallInteger, nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)


class Review(Base):
    """Append-only: a row is never updated or deleted; undo is a new review."""

    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(_in("verdict", VERDICTS), name="ck_reviews_verdict"),
        CheckConstraint("reason IS NULL OR " + _in("reason", REASONS), name="ck_reviews_reason"),
        CheckConstraint("label IS NULL OR label IN (0, 1)", name="ck_reviews_label"),
        Index("ix_reviews_pair", "pair_id", "id"),
        Index("ix_reviews_created", "created_at"),
        Index("ix_reviews_client_key", "client_key", unique=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(16))
    label: Mapped[Optional[int]] = mapped_column(SmallInteger, nullable=True)
    reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    note: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: the key the curator's desk gave the review before writing it (a review replayed from
    #: the desk's journal is stored once); None for reviews written without one
    client_key: Mapped[Optional[str]] = mapped_column(String(36), nullable=True)


class Claim(Base):
    """The pair in front of a curator on a team store, reserved until ``expires_at`` (UTC)."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_reviewer", "reviewer"),)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"),
                                         primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (UniqueConstraint("pair_id", "checkpoint", name="uq_predictions_pair_ckpt"),
                      Index("ix_predictions_checkpoint", "checkpoint"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"))
    checkpoint: Mapped[str] = mapped_column(Text)
    prob: Mapped[float] = mapped_column(Float)
    #: 1: the model never trained on the pair's image; 0: it did; None: not known
    out_of_sample: Mapped[Optional[bool]] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (CheckConstraint(_in("status", JOB_STATUSES), name="ck_jobs_status"),
                      Index("ix_jobs_status", "status"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_dir: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    metrics: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    manifest_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    pid: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime, nullable=True)
