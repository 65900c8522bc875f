"""Measure what the WSP pre-training learns, the paper's way against alternatives, on one world.

Each variant pre-trains on the same store for the same number of training samples (the same
budget: ``--samples`` pair crops, the learning rate divided by 10 after two thirds of them) and
is evaluated by ``eval-rd`` on the same held-out images (the run's test split, the images whose
path hashes under 0.1; no validation split, so every variant trains on the same images). For each
it reports the eq. 10 heatmap loss of the held-out crops against an all-zero output's, the share
of labelled joints whose heatmap peak (inside the person's box) is within 2 map pixels, and the
relative-depth accuracy against the perspective labels and against the 3D truth (RD protocol 1,
ΔS ≤ 1.0, every annotated joint of every pair).

Variants: ``paper`` (eq. 10, masks not detached, one random pair per image per epoch, heatmap
targets of every annotated person in the crop), ``detached`` (the same with the masks of eq. 5
detached from L_rd), ``pair-targets`` (targets of the pair's two persons only), and, with
``--old-src DIR``
(a checkout of an earlier commit of this project), ``before``: that code's pre-training with its
own defaults for the loss and the epoch (then evaluated by this code).

Usage:
  python scripts/method_check.py [--images 600] [--seed 0] [--samples 9600] [--out DIR]
      [--old-src DIR] [--variants paper,detached]
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--preset", "cpu-small", "--progress", "none"]
SPLIT = ["--set", "val_fraction=0.0", "--set", "test_fraction=0.1"]
VARIANTS = {"paper": [*SPLIT, "--set", "detach_masks=false"],
            "detached": [*SPLIT, "--set", "detach_masks=true"],
            "pair-targets": [*SPLIT, "--set", "hm_persons=pair"]}


def cli(*args, src: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(src or ROOT)}   # -m puts the working folder first
    proc = subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=src or ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"wsp-core {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def counts(db: Path) -> tuple[int, int]:
    """(training pairs, training images) under the split the runs use (test = hash < 0.1)."""
    sys.path.insert(0, str(ROOT))
    from wsp_core.store import iter_export, open_store
    from wsp_core.train.manifest import image_split

    pairs, images = 0, set()
    with open_store(db, create=False) as store:
        for row in iter_export(store, with_truth=True):
            if row["label"] is not None and image_split(
                    f"{row['source']}/{row['file_name']}", 0.0, 0.1) == "train":
                pairs += 1
                images.add(row["image"])
    return pairs, len(images)


def schedule(samples: int, per_epoch: int) -> list[str]:
    epochs = max(1, round(samples / per_epoch))
    return ["--set", f"epochs={epochs}", "--set", f"lr_steps={max(1, round(epochs * 2 / 3))}"]


def measure(run: Path, split: str) -> dict:
    r = json.loads(cli("eval-rd", "--ckpt", run / "last.pt", "--protocol", "1", "--workers", 2,
                       "--split", split, "--json"))
    p1 = r["protocol1"]
    top, hm, truth = p1["subsets"]["<= 1.0"], p1["heatmaps"], p1["truth"] or {}
    return {"test_pairs": r["pairs"], "hm_loss": hm["loss"], "hm_zero_loss": hm["zero_loss"],
            "zero_over_loss": hm["zero_loss"] / hm["loss"], "peaks_2px": hm["peaks_within_2px"],
            "peaks_2px_visible": hm["peaks_within_2px_visible"],
            "auc": top["auc"], "accuracy_vs_labels": top["accuracy"],
            "accuracy_vs_truth": truth.get("accuracy_vs_truth"),
            "labels_vs_truth": truth.get("labels_vs_truth")}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=9600)
    parser.add_argument("--out", type=Path, default=Path("method-check"))
    parser.add_argument("--old-src", type=Path)
    parser.add_argument("--variants", default="paper,detached")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    world, db = args.out / "world", args.out / "store.db"
    if not (world / "scenes.json").is_file():
        cli("synth", "--out", world, "--images", args.images, "--seed", args.seed)
    if not db.is_file():
        cli("import", "--db", db, "--format", "synth", "--ann", world / "scenes.json",
            "--images", world)
    pairs, images = counts(db)
    runs = [(name, VARIANTS[name], None, images, "test")
            for name in args.variants.split(",") if name]
    if args.old_src:  # its epoch is every pair; its val split (hash < 0.1) is our test split
        runs.insert(0, ("before", ["--set", "val_fraction=0.1"], args.old_src, pairs, "val"))
    rows = {}
    for name, sets, src, per_epoch, split in runs:
        run = args.out / name
        started = time.perf_counter()
        if not (run / "last.pt").is_file():
            cli("pretrain", "--db", db, "--out", run, *COMMON, *sets,
                *schedule(args.samples, per_epoch), src=src)
        rows[name] = {**measure(run, split),
                      "minutes": round((time.perf_counter() - started) / 60, 1)}
        print(name, json.dumps(rows[name]), flush=True)
    result = {"images": args.images, "seed": args.seed, "samples": args.samples,
              "train_pairs": pairs, "train_images": images, "rows": rows}
    print(table(rows))
    print(json.dumps(result))
    return result


def table(rows: dict) -> str:
    lines = ["| variant | L_hm (eq. 10) | all-zero L_hm | ratio | peaks ≤ 2 px (labelled / visible) "
             "| AUC | acc vs labels | acc vs 3D truth |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['hm_loss']:.3f} | {r['hm_zero_loss']:.3f} | "
                     f"{r['zero_over_loss']:.2f}× | {100 * r['peaks_2px']:.1f} / "
                     f"{100 * (r['peaks_2px_visible'] or 0):.1f} % | "
                     f"{100 * r['auc']:.2f} | {100 * r['accuracy_vs_labels']:.2f} | "
                     f"{100 * (r['accuracy_vs_truth'] or 0):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
