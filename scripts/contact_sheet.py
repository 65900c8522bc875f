"""A contact sheet of a synthetic world's first scenes, with each MCPC person's ankles marked.

Usage: python scripts/contact_sheet.py WORLD_DIR OUT.png [--cols 4] [--rows 2] [--tile 240]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from wsp_core.skeleton import CANONICAL_INDEX as C


def contact_sheet(world: Path, cols: int, rows: int, tile: int) -> np.ndarray:
    data = json.loads((world / "scenes.json").read_text())
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    tiles = []
    for im in data["images"][: cols * rows]:
        img = cv2.imread(str(world / im["file_name"]))
        for ann in by_image.get(im["id"], []):
            kp = np.array(ann["keypoints"]).reshape(-1, 3)
            for j in (C["l_ankle"], C["r_ankle"]):
                if kp[j, 2] > 0:
                    cv2.circle(img, (int(kp[j, 0]), int(kp[j, 1])), 4, (0, 0, 255), -1, cv2.LINE_AA)
            if ann["hug_group"] is not None or ann["elevation_m"] > 0:
                x, y, w, h = (int(v) for v in ann["bbox"])
                tag = "hug" if ann["hug_group"] is not None else "raised"
                cv2.rectangle(img, (x, y), (x + w, y + h), (0, 200, 255), 2)
                cv2.putText(img, tag, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            (0, 200, 255), 1, cv2.LINE_AA)
        h = int(tile * img.shape[0] / img.shape[1])
        tiles.append(cv2.resize(img, (tile, h), interpolation=cv2.INTER_AREA))
    grid = [np.hstack(tiles[r * cols:(r + 1) * cols]) for r in range(rows)]
    return np.vstack(grid)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("world", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--rows", type=int, default=2)
    parser.add_argument("--tile", type=int, default=240)
    args = parser.parse_args(argv)
    cv2.imwrite(str(args.out), contact_sheet(args.world, args.cols, args.rows, args.tile),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(args.out)


if __name__ == "__main__":
    main()
