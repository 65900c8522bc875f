"""Plot a run's metrics.jsonl (validation AUC and accuracy, RD loss per epoch) to a PNG.

Usage: python scripts/plot_metrics.py RUN_DIR OUT.png
Drawn with OpenCV, so it needs nothing beyond the project's dependencies.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

SERIES = (("val_auc", (200, 80, 30), "val AUC"), ("val_accuracy", (40, 160, 40), "val accuracy"),
          ("val_auc_ds_0.1", (160, 60, 160), "val AUC, dS <= 0.1"),
          ("loss_rd", (40, 40, 220), "train L_rd"))


def plot(rows: list[dict], width: int = 640, height: int = 360) -> np.ndarray:
    img = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 20, 50
    w, h = width - left - right, height - top - bottom
    epochs = [r["epoch"] + 1 for r in rows]
    x_of = lambda e: int(left + (e - 0) / max(max(epochs), 1) * w)  # noqa: E731
    y_of = lambda v: int(top + (1 - v) * h)  # noqa: E731
    for v in np.linspace(0, 1, 6):
        cv2.line(img, (left, y_of(v)), (left + w, y_of(v)), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (15, y_of(v) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (80, 80, 80), 1)
    for e in range(0, max(epochs) + 1):
        cv2.putText(img, str(e), (x_of(e) - 4, top + h + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (80, 80, 80), 1)
    cv2.putText(img, "epoch", (left + w // 2 - 20, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (60, 60, 60), 1)
    cv2.rectangle(img, (left, top), (left + w, top + h), (120, 120, 120), 1)
    for k, (key, colour, name) in enumerate(SERIES):
        pts = [(x_of(e), y_of(min(1.0, r[key]))) for e, r in zip(epochs, rows)
               if r.get(key) is not None]
        if pts:
            cv2.polylines(img, [np.array(pts, np.int32)], False,
                          colour, 2, cv2.LINE_AA)
            for p in pts:
                cv2.circle(img, p, 3, colour, -1, cv2.LINE_AA)
        cv2.putText(img, name, (left + 10, top + h - 60 + 15 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    colour, 1, cv2.LINE_AA)
    return img


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    rows = [json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if x]
    cv2.imwrite(str(args.out), plot(rows))
    print(args.out)


if __name__ == "__main__":
    main()
