"""Benchmark of the synthetic world: generation speed, then import and noise report.

Usage: python scripts/bench_synth.py [--images 1000] [--seed 0] [--workers N] [--keep DIR]
Measures ``wsp-core synth`` as a user runs it (all cores by default) and a one-worker run of a
tenth of the images in the same process for the per-core rate; then imports the world and runs
the noise report. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(*args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "wsp_core.cli", *args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return time.perf_counter() - t0, proc.stdout


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args(argv)
    from wsp_core.synth.world import generate_world

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        world, db = folder / "world", folder / "world.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        extra = ["--workers", str(args.workers)] if args.workers else []
        synth_s, _ = run("synth", "--out", str(world), "--images", str(args.images),
                         "--seed", str(args.seed), *extra)
        t0 = time.perf_counter()
        one = max(1, args.images // 10)
        generate_world(folder / "one-worker", one, args.seed, workers=1)
        one_worker_s = time.perf_counter() - t0
        import_s, out = run("import", "--db", str(db), "--format", "synth", "--ann",
                            str(world / "scenes.json"), "--images", str(world), "--json")
        report_s, noise = run("noise-report", "--db", str(db), "--json")
        src = json.loads(noise)["sources"][0]
        result = {"images": args.images, "cpus": os.cpu_count(), "synth_s": round(synth_s, 2),
                  "images_per_s": round(args.images / synth_s, 1),
                  "one_worker_images_per_s": round(one / one_worker_s, 1),
                  "import_s": round(import_s, 2), "pairs": json.loads(out)["pairs"],
                  "noise_report_s": round(report_s, 2), "wrong_rate": src["wrong_rate"]}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
