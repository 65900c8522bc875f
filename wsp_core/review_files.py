"""Files of verdicts that ``wsp-core review --from`` records in one transaction.

- JSON lines (``.jsonl``, any other name): one review a line, ``{pair, verdict, reason?, note?,
  reviewer?}`` (``pair_id`` for ``pair``): every line is a new review.
- CSV (``.csv``): a header with ``pair_id`` (or ``pair``) and ``verdict``, and optionally
  ``reason``, ``note``, ``reviewer``; other columns are ignored, so the file ``wsp-core export
  --format csv`` writes reads back after another tool edited its ``verdict`` column. A row with
  an empty verdict is a pair nobody reviewed and is skipped.
- COCO (``.json``, as ``wsp-core export --format coco`` writes it): each image's
  ``wsp_depth.pairs`` entries, ``status`` as the verdict (``auto``: skipped) with its ``reason``.

CSV and COCO files hold states rather than events: a row that says what the store already says
(the same verdict and reason) is not recorded again, so exporting and reading back changes
nothing. Any bad row names its line (CSV, JSON lines) or pair (COCO), and nothing is written.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .errors import InputError

JSONL_KEYS = {"pair", "pair_id", "verdict", "reason", "note", "reviewer"}


def is_state_file(path: Path) -> bool:
    """Whether a review file lists states (CSV, a COCO export) rather than new reviews."""
    return Path(path).suffix.lower() in (".csv", ".json")


def read_review_file(path: Path, reviewer: str | None = None) -> list[dict[str, Any]]:
    """The reviews of a file: dicts with ``line``, ``pair_id``, ``verdict``, ``reason``,
    ``note``, ``reviewer`` (``reviewer`` fills in where a row names none)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read it: {e}") from None
    suffix = path.suffix.lower()
    rows = _csv_rows(path, text) if suffix == ".csv" else _coco_rows(path, text) \
        if suffix == ".json" else _jsonl_rows(path, text)
    for row in rows:
        row["reviewer"] = row.get("reviewer") or reviewer
    return rows


def _pair_id(path: Path, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(path, f"{where}: 'pair' must be a pair id (a whole number)")
    return value


def _jsonl_rows(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise InputError(path, f"line {number}: not JSON ({e})") from None
        if not isinstance(row, dict):
            raise InputError(path, f"line {number}: not a JSON object")
        unknown = set(row) - JSONL_KEYS
        if unknown:
            raise InputError(path, f"line {number}: unknown keys {sorted(unknown)}")
        rows.append({"line": number, "verdict": row.get("verdict"), "reason": row.get("reason"),
                     "note": row.get("note"), "reviewer": row.get("reviewer"),
                     "pair_id": _pair_id(path, f"line {number}",
                                         row.get("pair", row.get("pair_id")))})
    return rows


def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    fields = set(reader.fieldnames or [])
    if not ({"pair_id", "pair"} & fields) or "verdict" not in fields:
        raise InputError(path, "line 1: a CSV of reviews needs the columns pair_id and verdict")
    rows = []
    for row in reader:
        number = reader.line_num
        verdict = (row.get("verdict") or "").strip()
        if not verdict:
            continue
        rows.append({"line": number, "verdict": verdict,
                     "pair_id": _pair_id(path, f"line {number}",
                                         _whole(row.get("pair_id") or row.get("pair"))),
                     "reason": (row.get("reason") or "").strip() or None,
                     "note": (row.get("note") or "").strip() or None,
                     "reviewer": (row.get("reviewer") or "").strip() or None})
    return rows


def _whole(text: str | None) -> int | str | None:
    """A CSV cell holding a whole number, as one (else as it is, for the error)."""
    return int(text) if text is not None and text.strip().isdigit() else text


def _coco_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise InputError(path, f"not JSON ({e})") from None
    images = doc.get("images") if isinstance(doc, dict) else None
    if not isinstance(images, list):
        raise InputError(path, "not a COCO export of wsp-core (needs 'images' with 'wsp_depth')")
    rows = []
    for image in images:
        pairs = (image.get("wsp_depth") or {}).get("pairs") if isinstance(image, dict) else None
        if not isinstance(pairs, list):
            raise InputError(path, f"image {image.get('id') if isinstance(image, dict) else image}"
                                   ": no wsp_depth.pairs (not a wsp-core COCO export)")
        for p in pairs:
            where = f"pair {p.get('pair_id') if isinstance(p, dict) else p}"
            if not isinstance(p, dict):
                raise InputError(path, f"{where}: not an object")
            if p.get("status") in (None, "auto"):
                continue
            rows.append({"line": where, "pair_id": _pair_id(path, where, p.get("pair_id")),
                         "verdict": p["status"], "reason": p.get("reason"), "note": None,
                         "reviewer": None})
    return rows


def changed_only(rows: list[dict[str, Any]],
                 states: dict[int, tuple[str, str | None]]) -> list[dict[str, Any]]:
    """The rows of a state file that change a pair: not already its status and reason (a pair
    the store lacks stays, for the store to refuse)."""
    return [r for r in rows if r["pair_id"] not in states
            or states[r["pair_id"]] != (r["verdict"], r["reason"])]
