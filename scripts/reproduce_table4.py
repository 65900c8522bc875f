"""Reproduce the direction of the paper's Table 4 on the synthetic world.

PoseNet vs WSP and PoseNet+MTS vs WSP+MTS: the same fine-tuning (``cpu-small`` preset) from a
backbone (``--start``: random here, ImageNet as the paper when its file is in $TORCH_HOME) or from
a WSP pre-training checkpoint (itself started the same way), with or without MTS (half of every batch
2D MCPC persons). As in the paper, the 2D data (WSP's pairs, MTS's persons) and the 3D data
are different images: the 2D side is a second world (seed + 1: other scenes, other bodies), the
3D side the single-person crops of the first world. As in Human3.6M's protocol, the 3D model
trains on some subjects (1 and 5) and is tested on others (9 and 11), every pose on both sides;
``--train-actions standing,walking`` narrows the training side further (the table's former
setting, in which no run left the mean pose on the test subjects).

Each seed s makes its own worlds (3D: seed 2s, 2D: seed 2s + 1) and initialisations (training
seed s). Reports, over the seeds, the mean and 95 % interval (Student's t) of action-average
MPJPE, MPJPE, the paper's "Joints Avg" and the X, Y, Z errors (mm) of the final epoch
(``last.pt``: no model is chosen on the test subjects), and the paired difference WSP − PoseNet
per axis, with and without MTS; writes the tables into docs/RESULTS.md (between its table-4
markers) with the command that made them, and prints one JSON object on its last line.

Usage:
  python scripts/reproduce_table4.py [--seeds 0,1,2] [--images 1000]
      [--wsp-ckpt CKPT | --pretrain-epochs 30] [--epochs 6] [--max-samples 0] [--out DIR]
      [--no-docs]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from wsp_core.evaluate.intervals import (format_interval, mean_interval,  # noqa: E402
                                         paired_difference)

#: The columns of the table, as eval-3d --json names them.
COLUMNS = (("action_mpjpe", "action-avg MPJPE"), ("mpjpe", "MPJPE"),
           ("joints_avg_paper", "Joints Avg (paper: √(X²+Y²+Z²))"), ("x", "X"), ("y", "Y"),
           ("z", "Z"), ("pa_mpjpe", "PA-MPJPE"))
#: WSP − PoseNet, paired on each seed.
PAIRS = (("WSP", "PoseNet"), ("WSP+MTS", "PoseNet+MTS"))
SPLIT = ["protocol=custom", "train_subjects=1,5", "test_subjects=9,11"]
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
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seeds", default="0,1,2",
                        help="comma list; each seed its own worlds and initialisations")
    parser.add_argument("--wsp-ckpt", type=Path, help="reuse this WSP checkpoint for every seed")
    parser.add_argument("--pretrain-epochs", type=int, default=30,
                        help="paper epochs: one random pair per image each")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-samples", type=int, default=0)
    parser.add_argument("--train-actions", default="",
                        help="comma list of the actions the 3D model trains on (default: all)")
    parser.add_argument("--out", type=Path, default=Path("table4-runs"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/RESULTS.md")
    parser.add_argument("--start", default="none", choices=("none", "imagenet"),
                        help="how every backbone starts: imagenet is the paper's (needs the "
                             "file in $TORCH_HOME); none (random) is not")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    per_seed = {seed: run_seed(args, seed, args.out / f"seed-{seed}") for seed in seeds}
    result = {"images": args.images, "seeds": seeds, "start": args.start,
              "epochs": args.epochs, "max_samples": args.max_samples,
              "train_actions": args.train_actions or "all",
              "minutes": round((time.perf_counter() - started) / 60, 1),
              "test_samples": {s: next(iter(r.values()))["test_samples"]
                               for s, r in per_seed.items()},
              "per_seed": per_seed, "summary": summarise(per_seed),
              "differences": differences(per_seed)}
    if not args.no_docs:
        write_docs(result, " ".join(["python", "scripts/reproduce_table4.py", *(argv or sys.argv[1:])]))
    print(f"backbones started from {STARTS[args.start]}; final epochs (last.pt) evaluated; "
          f"{len(seeds)} seed(s): mean ± 95 % interval (mm)")
    print(table(result["summary"]))
    print(difference_table(result["differences"]))
    print(json.dumps(result))
    return result


def run_seed(args, seed: int, out: Path) -> dict:
    """The four fine-tunings of one seed, each evaluated on the wide test set: method -> errors."""
    out.mkdir(parents=True, exist_ok=True)
    world = out / "world-3d"
    if not (world / "scenes.json").is_file():
        cli("synth", "--out", world, "--images", args.images, "--seed", 2 * seed)
    world_2d, db = out / "world-2d", out / "world-2d.db"
    if not (world_2d / "scenes.json").is_file():
        cli("synth", "--out", world_2d, "--images", args.images, "--seed", 2 * seed + 1)
    if not db.is_file():
        cli("import", "--db", db, "--format", "synth", "--ann", world_2d / "scenes.json",
            "--images", world_2d)
    wsp = args.wsp_ckpt
    if wsp is None:
        run = out / "wsp-pretrain"
        if not (run / "last.pt").is_file():
            cli("pretrain", "--db", db, "--out", run, "--preset", "cpu-small", "--set",
                f"epochs={args.pretrain_epochs}", "--set",
                f"lr_steps={max(1, args.pretrain_epochs * 2 // 3)}", "--set",
                f"backbone_weights={args.start}", "--set", f"seed={seed}",
                "--progress", "none")
        wsp = run / "last.pt"
    rows = {}
    for name, from_wsp, mts in RUNS:
        run = out / ("ft-" + name.lower().replace("+", "-"))
        if not (run / "last.pt").is_file():
            extra = ["--mts-db", db] if mts else []
            sets = [f"--set={s}" for s in SPLIT + [f"train_actions={args.train_actions}",
                                                   f"epochs={args.epochs}",
                                                   f"lr_steps={max(1, args.epochs - 2)}",
                                                   f"max_samples={args.max_samples}",
                                                   f"seed={seed}"]]
            cli("finetune", "--data", f"synth:{world}", "--init", wsp if from_wsp else args.start,
                "--out", run, "--preset", "cpu-small", *sets, *extra, "--progress", "none")
        # the final epoch, as 3DMPPE reports: no model is chosen on the test subjects
        r = json.loads(cli("eval-3d", "--ckpt", run / "last.pt", "--data", f"synth:{world}",
                           "--protocol", "custom", "--workers", 2, "--json"))
        rows[name] = {"action_mpjpe": r["action_avg_mpjpe"], "mpjpe": r["mpjpe"],
                      "joints_avg_paper": r["joints_avg_paper"], "x": r["x"], "y": r["y"],
                      "z": r["z"], "pa_mpjpe": r["pa_mpjpe"], "test_samples": r["samples"]}
    return rows


def summarise(per_seed: dict) -> dict:
    """method -> column -> (mean, 95 % half-width) over the seeds."""
    methods = next(iter(per_seed.values()))
    return {name: {key: mean_interval([rows[name][key] for rows in per_seed.values()])
                   for key, _ in COLUMNS} for name in methods}


def differences(per_seed: dict) -> dict:
    """"WSP − PoseNet" (and with MTS) -> column -> (mean, 95 % half-width) of the per-seed
    differences: negative means WSP's error is lower."""
    return {f"{a} − {b}": {key: paired_difference([rows[a][key] for rows in per_seed.values()],
                                                   [rows[b][key] for rows in per_seed.values()])
                           for key, _ in COLUMNS} for a, b in PAIRS}


def table(summary: dict) -> str:
    lines = ["| method | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for name, cells in summary.items():
        lines.append(f"| {name} | " + " | ".join(format_interval(*cells[key])
                                                 for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def difference_table(diffs: dict) -> str:
    lines = ["| paired difference (mm; < 0: WSP lower) | " +
             " | ".join(title for _, title in COLUMNS) + " | holds? (interval below 0) |",
             "|---|" + "---|" * (len(COLUMNS) + 1)]
    for name, cells in diffs.items():
        holds = [title for key, title in COLUMNS if _below_zero(*cells[key])]
        lines.append(f"| {name} | " + " | ".join(format_interval(*cells[key])
                                                 for key, _ in COLUMNS)
                     + f" | {', '.join(holds) if holds else 'none'} |")
    return "\n".join(lines)


def _below_zero(mean: float, half: float | None) -> bool:
    return half is not None and math.isfinite(half) and mean + half < 0


def write_docs(result: dict, command: str) -> None:
    path = ROOT / "docs" / "RESULTS.md"
    text = path.read_text()
    seeds = result["seeds"]
    block = (f"{BEGIN}\nMade by `{command}` ({result['minutes']} min on this machine; seeds "
             f"{', '.join(map(str, seeds))}: each its own 3D world (seed 2s) and 2D world "
             f"(2s + 1) of {result['images']} images and its own initialisations; "
             f"{result['epochs']} fine-tuning epochs on subjects 1 and 5 "
             f"({result.get('train_actions', 'all')} actions); backbones started from "
             f"{STARTS[result['start']]}; final epochs evaluated). Errors in mm on each seed's "
             f"wide test set (subjects 9 and 11: {', '.join(map(str, result['test_samples'].values()))} "
             f"crops), mean ± 95 % interval over the seeds (Student's t):"
             f"\n\n{table(result['summary'])}\n\n{difference_table(result['differences'])}"
             f"\n{END}")
    if BEGIN in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
