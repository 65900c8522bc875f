"""Where each frame's person boxes come from: boxes given on the command line (every frame),
a file (3DMPPE's boxes-and-roots list, or a COCO-style file of images and annotations), a
person detector, or else the whole image as one person.

A file's entries are matched to a frame by the image's file name (folders ignored) or its stem;
a video's frame N by an image id or PoseTrack ``frame_id`` N, or a file name whose stem is the
number N (``000012.jpg``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..skeleton import H36M
from .detect import Detector
from .frames import Frame
from .pose import PersonBox


def frame_keys(frame: Frame) -> list[str]:
    """The names a boxes file may give this frame."""
    if frame.path is None:                                  # a video frame
        return [str(frame.index)]
    return [frame.name, Path(frame.name).stem]


class BoxSource:
    """Person boxes per frame; ``describe`` says where they came from (in the output)."""

    describe = "whole image"

    def persons(self, frame: Frame) -> list[PersonBox]:
        h, w = frame.image.shape[:2]
        return [PersonBox([0.0, 0.0, float(w), float(h)])]


class GivenBoxes(BoxSource):
    describe = "given"

    def __init__(self, boxes: list[list[float]]) -> None:
        for box in boxes:
            if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
                raise InputError("--box", f"{box} is not x,y,w,h with a positive size")
        self.boxes = boxes

    def persons(self, frame: Frame) -> list[PersonBox]:
        return [PersonBox(list(b)) for b in self.boxes]


class DetectedBoxes(BoxSource):
    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.describe = f"detected ({detector.name})"

    def persons(self, frame: Frame) -> list[PersonBox]:
        return [PersonBox(list(d.box), d.score) for d in self.detector(frame.image)]


class FileBoxes(BoxSource):
    """A 3DMPPE ``bbox_root_*_output.json`` (a list: boxes with known roots) or a COCO-style
    file (a dict with ``images`` and ``annotations``: boxes, roots from the box-size prior).
    ``single``: predicting one image, to which a file of one image's boxes applies whatever
    its name; an image the file does not name is refused then (in a folder or video it simply
    has no person)."""

    def __init__(self, path: Path, single: bool = False) -> None:
        from ..formats.base import load_json
        from ..formats.coco import boxes_by_image
        from ..formats.pose3d import read_bbox_root

        self.path, self.single = Path(path), single
        self.describe = str(path)
        data = load_json(self.path)
        self.by_key: dict[str, list[PersonBox]] = {}
        if isinstance(data, list):
            for image_id, box, root in read_bbox_root(self.path):
                self.by_key.setdefault(image_id, []).append(
                    PersonBox(box.tolist(), root_mm=float(root[2])))
        elif isinstance(data, dict):
            for key, boxes in boxes_by_image(self.path, data).items():
                self.by_key[key] = [PersonBox(b) for b in boxes]
        else:
            raise InputError(path, "expected 3DMPPE's boxes-and-roots list or a COCO-style file")
        self.groups = {id(v): v for v in self.by_key.values()}

    def persons(self, frame: Frame) -> list[PersonBox]:
        for key in frame_keys(frame):
            if key in self.by_key:
                return self.by_key[key]
        if self.single and len(self.groups) == 1:
            return next(iter(self.groups.values()))
        if self.single:
            raise InputError(self.path, f"lists no box of image {frame.name}")
        return []


def box_source(boxes: list[list[float]] | None = None, boxes_file: Path | None = None,
               detector: Detector | None = None, single: bool = False) -> BoxSource:
    """The one way boxes are given (more than one is refused by the caller)."""
    if boxes_file is not None:
        return FileBoxes(boxes_file, single)
    if detector is not None:
        return DetectedBoxes(detector)
    if boxes:
        return GivenBoxes(boxes)
    return BoxSource()


def describe_persons(result: dict[str, Any]) -> str:
    """One line per person of a frame's result (the CLI's text output)."""
    head = H36M.index("head_top")
    return "\n".join(
        f"person {k + 1} box {p['box']}: root depth {p['root_depth_mm']:.0f} mm "
        f"({p['root_source']}), head {p['joints_mm'][head]} mm from the pelvis"
        for k, p in enumerate(result["persons"])) or f"{result['image']}: no person"
