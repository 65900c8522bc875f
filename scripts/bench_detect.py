"""How well the person detector finds people: on a synthetic world (its large, whole persons)
and on the real COCO and CrowdPose samples (every annotated, non-crowd person with a box).

A person is found when a proposed box overlaps its annotated box with IoU ≥ 0.5; a proposed
box is right when it so overlaps any annotated person.

Usage: python scripts/bench_detect.py [--images 40] [--seed 5] [--detector FILE.onnx]
                                      [--samples ../shared/real-samples]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2

from wsp_core.infer.detect import iou, make_detector

LARGE_PX = 160


def count(detector, image, persons, annotated=None) -> dict:
    """Found: ``persons`` with a proposed box; right: proposed boxes on any of ``annotated``
    (default: ``persons``)."""
    boxes = [d.box for d in detector(image)]
    annotated = persons if annotated is None else annotated
    return {"persons": len(persons), "boxes": len(boxes),
            "found": sum(any(iou(p, b) >= 0.5 for b in boxes) for p in persons),
            "right": sum(any(iou(p, b) >= 0.5 for p in annotated) for b in boxes)}


def add(total: dict, part: dict) -> dict:
    return {k: total.get(k, 0) + v for k, v in part.items()}


def synthetic(detector, images: int, seed: int) -> dict:
    from wsp_core.synth.world import generate_world

    total: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        world = Path(tmp) / "world"
        generate_world(world, images, seed=seed, workers=1)
        scenes = json.loads((world / "scenes.json").read_text())
        for im in scenes["images"]:
            anns = [a["bbox"] for a in scenes["annotations"] if a["image_id"] == im["id"]]
            large = [b for b in anns if b[3] >= LARGE_PX and b[0] > 2 and b[1] > 2
                     and b[0] + b[2] < im["width"] - 2 and b[1] + b[3] < im["height"] - 2]
            # a box is right when it overlaps any annotated person, large or not
            total = add(total, count(detector, cv2.imread(str(world / im["file_name"])), large,
                                     anns))
    return total


def real(detector, samples: Path) -> dict:
    out = {}
    for folder, ann in (("coco", "test_coco.json"), ("crowdpose", "test_crowdpose.json")):
        data = json.loads((samples / folder / ann).read_text())
        total: dict = {}
        for im in data["images"]:
            path = samples / folder / Path(im["file_name"]).name
            persons = [a["bbox"] for a in data["annotations"] if a["image_id"] == im["id"]
                       and not a.get("iscrowd") and a.get("bbox") and a["bbox"][3] > 0]
            part = count(detector, cv2.imread(str(path)), persons)
            out[f"{folder}/{path.name}"] = part
            total = add(total, part)
        out[folder] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--detector", type=Path)
    parser.add_argument("--samples", type=Path, default=Path("../shared/real-samples"))
    args = parser.parse_args()
    detector = make_detector(args.detector)
    result = {"benchmark": "detect", "detector": detector.name,
              "synthetic_large_whole": synthetic(detector, args.images, args.seed),
              **real(detector, args.samples)}
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{key}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
