"""Readers of the dataset formats. ``read_source(fmt, ann, images)`` dispatches by name."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .base import NOTE_REASONS, ReadNotes, SourceData, apply_margins, resolve_images
from .coco import read_coco_style
from .mpii import read_mpii

#: Formats ``wsp-core import --format`` accepts now.
FORMATS = ("coco", "crowdpose", "posetrack", "mpii", "muco", "mupots", "synth")


def read_source(fmt: str, ann: str | Path, images_dir: str | Path,
                strict: bool = False) -> SourceData:
    """Read a source's annotations (no image is decoded). InputError on a bad file; a bad
    annotation is skipped and counted in ``data.notes`` (``strict``: InputError instead)."""
    ann, images_dir = Path(ann), Path(images_dir)
    if fmt not in FORMATS:
        raise InputError(ann, f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    if not ann.exists():
        raise InputError(ann, "no such file")
    if fmt == "mpii":
        return read_mpii(ann, images_dir, ReadNotes(strict))
    return read_coco_style(fmt, ann, images_dir, ReadNotes(strict))


__all__ = ["FORMATS", "NOTE_REASONS", "ReadNotes", "SourceData", "apply_margins", "read_source",
           "resolve_images"]
