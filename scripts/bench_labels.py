"""Benchmark of perspective-label generation and of a whole import.

Generates a COCO-style file of N images × 4–6 standing persons (every image file a hard link to
one small JPEG), then measures in this one process:

- the vectorised labelling step (joint gathering, MCPC selection, pairs, labels, S, ΔS, cue
  scores) as ``pairs_per_s`` (best of three runs; the first run is ``label_first_s``);
- the straightforward per-pair Python loop (wsp_core.perspective.reference) on the same data, as
  ``loop_pairs_per_s``, and the ratio of the two (the outputs are checked to be equal);
- a whole ``wsp-core import`` of the file into a fresh store (a separate process, as a user runs
  it: JSON parsing, checks, labelling, writing), as ``import_s``, with that process's peak
  resident memory (``import_peak_mb``) and its ratio to the annotation file's size;
- a ``wsp-core export`` of every pair of that store, as ``export_s``.

Usage: python scripts/bench_labels.py [--images 50000] [--seed 0] [--keep DIR]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the per-segment heights of a standing person, as fractions of the body height, in COCO order
_COCO_Y = np.array([0.06, 0.05, 0.05, 0.06, 0.06, 0.18, 0.18, 0.33, 0.33, 0.45, 0.45, 0.5, 0.5,
                    0.73, 0.73, 1.0, 1.0])
_COCO_X = np.array([0, -1, 1, -2, 2, -3, 3, -4, 4, -4, 4, -2, 2, -2, 2, -2, 2]) * 0.04


def generate(folder: Path, n_images: int, seed: int) -> tuple[Path, Path, int]:
    """Write ann.json and images/ (hard links); returns the paths and the number of persons."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images_dir = folder / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    source = folder / "source.jpg"
    # the size the file declares: the header wins over a declared size (docs/FORMATS.md)
    Image.new("RGB", (640, 480), (120, 130, 140)).save(source)
    per_image = rng.integers(4, 7, size=n_images)
    image_of = np.repeat(np.arange(n_images), per_image)
    n = len(image_of)
    height = rng.uniform(60, 300, n)
    foot_y = rng.uniform(200, 470, n)
    x = rng.uniform(40, 600, n)
    kp = np.zeros((n, 17, 3))
    kp[:, :, 0] = x[:, None] + _COCO_X[None] * height[:, None] + rng.normal(0, 2, (n, 17))
    kp[:, :, 1] = (foot_y - height)[:, None] + _COCO_Y[None] * height[:, None] + rng.normal(0, 2, (n, 17))
    kp[:, :, 2] = np.where(rng.random((n, 17)) < 0.92, 2, 0)
    kp[:, :, :2] = np.clip(kp[:, :, :2], 0, None)
    kp[kp[:, :, 2] == 0, :2] = 0
    boxes = np.stack([x - 0.25 * height, foot_y - height, 0.5 * height, height], 1)
    images = []
    for i in range(n_images):
        name = f"{i:06d}.jpg"
        target = images_dir / name
        if not target.exists():
            os.link(source, target)
        images.append({"id": i + 1, "file_name": name, "width": 640, "height": 480})
    kp_lists = np.round(kp, 1).tolist()
    box_lists = np.round(boxes, 2).tolist()
    anns = [{"id": p + 1, "image_id": int(image_of[p]) + 1, "iscrowd": 0, "category_id": 1,
             "bbox": box_lists[p], "keypoints": [v for joint in kp_lists[p] for v in joint],
             "num_keypoints": int((kp[p, :, 2] > 0).sum())} for p in range(n)]
    from wsp_core.skeleton import COCO

    ann = folder / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [
        {"id": 1, "name": "person", "keypoints": list(COCO.joints)}]}))
    return ann, images_dir, n


def bench_labelling(ann: Path, images_dir: Path) -> dict:
    from wsp_core.formats import read_source
    from wsp_core.perspective import label_pairs
    from wsp_core.perspective.reference import label_pairs_loop
    from wsp_core.skeleton import to_canonical

    data = read_source("coco", ann, images_dir)
    heights = data.image_size[:, 1].astype(np.float64)
    times = []
    for _ in range(3):  # best of three: the first run also pays for page faults
        t0 = time.perf_counter()
        _, table = label_pairs(data.keypoints, data.joint_set, data.person_image, data.bbox,
                               heights)
        times.append(time.perf_counter() - t0)
    vec_s = min(times)
    kp_list = to_canonical(data.keypoints, data.joint_set).tolist()
    img_list = data.person_image.tolist()
    box_list, h_list = data.bbox.tolist(), heights.tolist()
    t0 = time.perf_counter()
    rows = label_pairs_loop(kp_list, img_list, box_list, h_list)
    loop_s = time.perf_counter() - t0
    same = (len(rows) == len(table)
            and np.array_equal([r["label"] for r in rows], table.label)
            and np.allclose([r["suspicion"] for r in rows], table.suspicion)
            and np.allclose([r["delta_s"] for r in rows], table.delta_s, equal_nan=True))
    return {"pairs": len(table), "persons": data.num_persons, "label_s": round(vec_s, 3),
            "label_first_s": round(times[0], 3),
            "pairs_per_s": round(len(table) / vec_s), "loop_s": round(loop_s, 2),
            "loop_pairs_per_s": round(len(rows) / loop_s),
            "speedup_vs_loop": round(loop_s / vec_s, 1), "outputs_equal": bool(same)}


#: Runs wsp-core's main in a fresh interpreter and prints its peak resident memory last (VmHWM:
#: ru_maxrss of a child would count the pages of this benchmark process it was forked from).
_MEASURED = ("import sys\nfrom wsp_core.cli import main\nrc = main(sys.argv[1:])\n"
             "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
             "print('peak_kb', hwm, file=sys.stderr)\nsys.exit(rc)\n")


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Run ``wsp-core ARGS`` in its own process, as a user would: (wall seconds, that process's
    peak resident MB, its stdout). Exits with its stderr if it fails."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURED, *args], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[1])
    return seconds, peak_kb / 1024, proc.stdout


def bench_import(ann: Path, images_dir: Path, folder: Path) -> dict:
    """A whole import into a new store, its peak memory against the annotation file's size,
    then an export of every pair (``export_s``, the issue-19 target: <= 10 s at 222k pairs)."""
    db = folder / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    import_s, peak_mb, out = run_measured(["import", "--db", str(db), "--format", "coco",
                                           "--ann", str(ann), "--images", str(images_dir),
                                           "--json"])
    report = json.loads(out.strip().splitlines()[-1])
    export_s, export_mb, _ = run_measured(["export", "--db", str(db), "--out",
                                           str(folder / "pairs.jsonl")])
    ann_mb = ann.stat().st_size / 2**20
    return {"import_s": round(import_s, 2), "import_pairs": report["new_pairs"],
            "import_peak_mb": round(peak_mb), "import_peak_over_ann": round(peak_mb / ann_mb, 2),
            "db_mb": round(db.stat().st_size / 2**20, 1), "export_s": round(export_s, 2),
            "export_peak_mb": round(export_mb)}


def bench_args(doc: str, images: int, argv=None, db: bool = False) -> argparse.Namespace:
    """The arguments of a benchmark on generated COCO-style data: --images, --seed, --keep
    (and with ``db``, --db: an empty database on a server to build the store in)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--images", type=int, default=images)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    if db:
        parser.add_argument("--db", help="build the store in this empty PostgreSQL database "
                                         "(postgresql://user@host/db; PGPASSWORD for a "
                                         "password) instead of a file")
    return parser.parse_args(argv)


@contextlib.contextmanager
def work_folder(keep: Path | None):
    """``keep`` (made if missing, kept), else a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def main(argv=None) -> dict:
    args = bench_args(__doc__, 50_000, argv)
    with work_folder(args.keep) as folder:
        t0 = time.perf_counter()
        ann, images_dir, n = generate(folder, args.images, args.seed)
        result = {"images": args.images, "generate_s": round(time.perf_counter() - t0, 1),
                  "ann_mb": round(ann.stat().st_size / 2**20, 1), "cpus": os.cpu_count()}
        result.update(bench_labelling(ann, images_dir))
        result.update(bench_import(ann, images_dir, folder))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
