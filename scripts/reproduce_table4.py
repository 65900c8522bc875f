"""Reproduce the direction of the paper's Table 4 on the synthetic world.

PoseNet vs WSP and PoseNet+MTS vs WSP+MTS: the same fine-tuning (``cpu-small`` preset) from a
backbone (``--start``: random here, ImageNet as the paper when its file is in $TORCH_HOME) or from
a WSP pre-training checkpoint (itself started the same way), with or without MTS (half of every batch
2D MCPC persons). As in the paper, the 2D data (WSP's pairs, MTS's persons) and the 3D data
are different images: the 2D side is a second world (seed + 1: other scenes, other bodies), the
3D side the single-person crops of the first world. The 3D training set is made deliberately
narrow, like Human3.6M (subjects 1 and 5, standing and walking only), the test set wide
(subjects 9 and 11, every pose). Reports action-average MPJPE, joint-average MPJPE and the X, Y, Z errors (mm), writes the
table into docs/RESULTS.md (between its table-4 markers) with the command that made it, and prints
one JSON object on its last line.

Usage:
  python scripts/reproduce_table4.py [--world DIR] [--images 1000] [--seed 0]
      [--wsp-ckpt CKPT | --pretrain-epochs 30] [--epochs 6] [--max-samples 0] [--out DIR]
      [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NARROW = ["protocol=custom", "train_subjects=1,5", "train_actions=standing,walking",
          "test_subjects=9,11"]
RUNS = (("PoseNet", False, False), ("WSP", True, False), ("PoseNet+MTS", False, True),
        ("WSP+MTS", True, True))
STARTS = {"imagenet": "ImageNet, as the paper",
          "none": "random weights (not the paper's: it starts from ImageNet)"}
BEGIN, END = "<!-- table4:begin -->", "<!-- table4:end -->"


def cli(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "wsp_core.cli", *map(str, args)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"wsp-core {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc.stdout


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="the 3D world (made here when missing)")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--wsp-ckpt", type=Path, help="reuse this WSP checkpoint")
    parser.add_argument("--pretrain-epochs", type=int, default=30,
                        help="paper epochs: one random pair per image each")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-samples", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("table4-runs"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/RESULTS.md")
    parser.add_argument("--start", default="none", choices=("none", "imagenet"),
                        help="how every backbone starts: imagenet is the paper's (needs the "
                             "file in $TORCH_HOME); none (random) is not")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    world = args.world or args.out / "world-3d"
    if not (world / "scenes.json").is_file():
        cli("synth", "--out", world, "--images", args.images, "--seed", args.seed)
    world_2d, db = args.out / "world-2d", args.out / "world-2d.db"
    if not (world_2d / "scenes.json").is_file():
        cli("synth", "--out", world_2d, "--images", args.images, "--seed", args.seed + 1)
    if not db.is_file():
        cli("import", "--db", db, "--format", "synth", "--ann", world_2d / "scenes.json",
            "--images", world_2d)
    wsp = args.wsp_ckpt
    if wsp is None:
        run = args.out / "wsp-pretrain"
        if not (run / "last.pt").is_file():
            cli("pretrain", "--db", db, "--out", run, "--preset", "cpu-small", "--set",
                f"epochs={args.pretrain_epochs}", "--set",
                f"lr_steps={max(1, args.pretrain_epochs * 2 // 3)}", "--set",
                f"backbone_weights={args.start}",
                "--progress", "none")
        wsp = run / "last.pt"
    rows = {}
    for name, from_wsp, mts in RUNS:
        run = args.out / ("ft-" + name.lower().replace("+", "-"))
        if not (run / "last.pt").is_file():
            extra = ["--mts-db", db] if mts else []
            sets = [f"--set={s}" for s in NARROW + [f"epochs={args.epochs}",
                                                    f"lr_steps={max(1, args.epochs - 2)}",
                                                    f"max_samples={args.max_samples}"]]
            cli("finetune", "--data", f"synth:{world}", "--init", wsp if from_wsp else args.start,
                "--out", run, "--preset", "cpu-small", *sets, *extra, "--progress", "none")
        # the final epoch, as 3DMPPE reports: no model is chosen on the test subjects
        r = json.loads(cli("eval-3d", "--ckpt", run / "last.pt", "--data", f"synth:{world}",
                           "--protocol", "custom", "--workers", 2, "--json"))
        rows[name] = {"action_mpjpe": r["action_avg_mpjpe"], "mpjpe": r["mpjpe"],
                      "joints_avg_paper": r["joints_avg_paper"], "x": r["x"], "y": r["y"],
                      "z": r["z"], "pa_mpjpe": r["pa_mpjpe"], "test_samples": r["samples"]}
    result = {"world": str(world), "world_2d": str(world_2d), "images": args.images,
              "seed": args.seed, "start": args.start,
              "wsp_checkpoint": str(wsp), "epochs": args.epochs, "max_samples": args.max_samples,
              "minutes": round((time.perf_counter() - started) / 60, 1), "rows": rows}
    if not args.no_docs:
        write_docs(result, " ".join(["python", "scripts/reproduce_table4.py", *(argv or sys.argv[1:])]))
    print(f"backbones started from {STARTS[args.start]}; final epochs (last.pt) evaluated")
    print(table(rows))
    print(json.dumps(result))
    return result


def table(rows: dict) -> str:
    lines = ["| method | action-avg MPJPE | MPJPE | Joints Avg (paper: √(X²+Y²+Z²)) | X | Y | Z "
             "| PA-MPJPE |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        avg = r.get("joints_avg_paper", float("nan"))
        lines.append(f"| {name} | {r['action_mpjpe']:.1f} | {r['mpjpe']:.1f} | {avg:.1f} | "
                     f"{r['x']:.1f} | {r['y']:.1f} | {r['z']:.1f} | {r['pa_mpjpe']:.1f} |")
    return "\n".join(lines)


def write_docs(result: dict, command: str) -> None:
    path = ROOT / "docs" / "RESULTS.md"
    text = path.read_text()
    block = (f"{BEGIN}\nMade by `{command}` ({result['minutes']} min on this machine; 3D world "
             f"seed {result['seed']}, 2D world seed {result['seed'] + 1}, {result['images']} images "
             f"each; {result['epochs']} fine-tuning epochs; backbones started from "
             f"{STARTS[result['start']]}"
             f"; final epochs evaluated). Errors in mm on the wide test set "
             f"({next(iter(result['rows'].values()))['test_samples']} crops of subjects 9 and 11):"
             f"\n\n{table(result['rows'])}\n{END}")
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
