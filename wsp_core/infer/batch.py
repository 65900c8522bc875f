"""``wsp-core predict`` over one image, a folder or a video: each frame's boxes, focal length and
3D poses, as JSON (one image) or JSON lines (one per frame), and optionally CSV (one row per
person and frame)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..skeleton import H36M
from .boxes import BoxSource, FileBoxes
from .camera import photo_focal
from .frames import frames
from .pose import PoseNetwork, frame_result


def predict_frames(path: Path, network: PoseNetwork, source: BoxSource,
                   focal_px: float | None = None,
                   on_frame: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
    """Each frame's result (:func:`~wsp_core.infer.pose.frame_result`); a folder's unreadable
    image gives ``{"image", "error"}`` and the rest go on."""
    for frame in frames(path):
        if frame.image is None:
            yield {"image": frame.name, "error": frame.error}
        else:
            h, w = frame.image.shape[:2]
            focal = photo_focal(frame.path, w, h, focal_px)
            result = frame_result(frame.name, frame.image, source.persons(frame), network, focal,
                                  source.describe)
            result["roots"] = str(source.path) if isinstance(source, FileBoxes) and any(
                p["root_source"] == "given" for p in result["persons"]) else "box-size prior"
            if frame.path is None:
                result["frame"] = frame.index
            yield result
        if on_frame is not None:
            on_frame()


CSV_FIELDS = ["image", "person", "box_x", "box_y", "box_w", "box_h", "score", "root_depth_mm"] + \
    [f"{j}_{axis}" for j in H36M.joints for axis in ("x", "y", "z")] + \
    [f"{j}_cam_{axis}" for j in H36M.joints for axis in ("x", "y", "z")]


class CsvRows:
    """One row per person and frame: its box, score, root depth, root-relative joints (mm) and
    camera-space joints (mm), in H36M's joint order."""

    def __init__(self, f) -> None:
        self.writer = csv.writer(f)
        self.writer.writerow(CSV_FIELDS)

    def add(self, result: dict[str, Any]) -> None:
        for k, p in enumerate(result.get("persons", [])):
            self.writer.writerow([result["image"], k + 1, *p["box"], p.get("score", ""),
                                  p["root_depth_mm"], *(v for j in p["joints_mm"] for v in j),
                                  *(v for j in p["joints_cam_mm"] for v in j)])
