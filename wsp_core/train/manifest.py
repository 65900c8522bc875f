"""The frozen snapshot a training job reads: the store's effective labels as JSON lines.

Curators may keep reviewing while a job runs; the job reads only its manifest, whose SHA-256 is
recorded with the run (config.json, checkpoints, the jobs table). Pairs marked ambiguous or
excluded are left out. Each row says which split its image falls in, by a CRC of the image's
path mapped to [0, 1): under ``test_fraction`` it is ``test`` (reported by ``eval-rd``, never
used to choose a model), under ``test_fraction + val_fraction`` it is ``val`` (chooses
``best.pt``), else ``train``. Both persons of a pair, and all pairs of an image, fall on the same
side, and the split does not change between runs. The CRC is of ``<source name>/<file name
relative to the image folder>``, so moving a dataset keeps its split.

Before an image's first pair comes one line for the image (no ``pair_id``): ``{"image", "split",
"persons": [{"person_id", "keypoints"}, ...]}``, every annotated person of it, MCPC or not, so
that training's heatmap targets can show every person the crop shows. ``read_manifest`` attaches
that list to each of the image's pairs as ``row["persons"]`` (one shared list per image).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import InputError
from ..store.db import Store
from ..store.queries import image_persons, iter_export


SPLITS = ("train", "val", "test")


def image_split(image: str, val_fraction: float, test_fraction: float = 0.0, folds: int = 0,
                fold: int = 0) -> str:
    """The split of an image (by a CRC of its path, u in [0, 1)): test, val or train.

    With ``folds`` K ≥ 2 the images fall into K image-disjoint folds by u (fold k: u in
    [k/K, (k+1)/K)); fold ``fold`` is the test split (``test_fraction`` is not used) and the
    others give ``val_fraction`` of their images to val (by where u lies within its fold)."""
    u = (zlib.crc32(image.encode("utf-8")) % 10_000) / 10_000
    if folds >= 2:
        part, within = divmod(u * folds, 1.0)
        return "test" if int(part) == fold else "val" if within < val_fraction else "train"
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def image_key(row: dict[str, Any]) -> str:
    """What an image's split is drawn from: ``<source name>/<file name>``."""
    return f"{row['source']}/{row['file_name']}"


def export_manifest(store: Store, path: Path, val_fraction: float,
                    test_fraction: float = 0.0, folds: int = 0, fold: int = 0) -> dict[str, Any]:
    """Write the manifest atomically; returns its SHA-256 and counts."""
    counts = {**{s: 0 for s in SPLITS}, "left_out": 0}
    digest = hashlib.sha256()
    seen: set[int] = set()

    def write(record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        digest.update(line)
        f.write(line)

    def flush(batch: list[dict[str, Any]]) -> None:
        new = sorted({r["image_id"] for r in batch} - seen)
        persons = image_persons(store, new)
        seen.update(new)
        for row in batch:
            if row["image_id"] in persons:
                write({"image": row["image"], "split": row["split"],
                       "persons": persons.pop(row["image_id"])})
            write(row)
        batch.clear()

    with atomic_write(path, "wb") as f:
        batch: list[dict[str, Any]] = []
        for row in iter_export(store, with_truth=True):
            if row["label"] is None:
                counts["left_out"] += 1
                continue
            row["split"] = image_split(image_key(row), val_fraction, test_fraction, folds, fold)
            counts[row["split"]] += 1
            batch.append(row)
            if len(batch) >= 2000:
                flush(batch)
        flush(batch)
    return {"sha256": digest.hexdigest(), **counts}


def read_manifest(path: Path, split: str | None = None, limit: int = 0) -> list[dict[str, Any]]:
    """Pair rows of a manifest (of one split, when given), at most ``limit`` (0: all), each with
    its image's ``persons`` (empty in manifests written before images had their line)."""
    rows = []
    persons: dict[str, list[dict[str, Any]]] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                row = json.loads(line)
                if split not in (None, "all") and row.get("split") != split:
                    continue
                if "pair_id" not in row and "persons" in row:   # an image's line
                    persons[row["image"]] = row["persons"]
                    continue
                if "pair_id" in row:
                    row["persons"] = persons.get(row["image"], [])
                rows.append(row)
                if limit and len(rows) >= limit:
                    break
    except FileNotFoundError:
        raise InputError(path, "no such manifest") from None
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {n}: malformed JSON ({e.msg})") from None
    return rows


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
