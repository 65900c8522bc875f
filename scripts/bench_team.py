"""Benchmark of a team's store on PostgreSQL against the SQLite file, in one run (issue 14).

Starts a throw-away PostgreSQL server (tests/pg_server.py: Debian's initdb and pg_ctl, a
loopback port; fsync off, as a test server) and measures, on both back ends:

- ``import_s``: ``wsp-core import`` of bench_labels' 50,000-image COCO-style file into a new
  store (target: PostgreSQL within 2x SQLite's time);
- the desk of scripts/bench_gui.py on the same ~220,000-pair store built in each: ``open_s``,
  ``next_ms_p95`` and the slowest queue query (targets: PostgreSQL within 1.5x SQLite's);
- ``team_verdicts_per_s``: eight simulated curators (tests/curator_sim.py: the desk with its
  claims and journal, separate processes) giving verdicts at once on the PostgreSQL store.

Usage: python scripts/bench_team.py [--import-images 50000] [--gui-images 30000]
       [--verdicts 200] [--keep DIR]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_gui import bench_window, make_store, time_queries  # noqa: E402
from bench_labels import generate, run_measured, work_folder  # noqa: E402
from pg_server import Server, why_not  # noqa: E402


def bench_import(folder: Path, images: int, url: str) -> dict:
    ann, images_dir, _ = generate(folder / "import", images, 0)
    out = {}
    for name, db in (("sqlite", str(folder / "import.db")), ("postgresql", url)):
        seconds, peak_mb, _ = run_measured(["import", "--db", db, "--format", "coco", "--ann",
                                            str(ann), "--images", str(images_dir)])
        out[name] = {"import_s": round(seconds, 1), "import_peak_mb": round(peak_mb)}
    return out


def bench_desk(folder: Path, images: int, url: str) -> dict:
    from wsp_core.store import open_store
    from wsp_core.store.browse import checkpoints

    out = {}
    for name, target in (("sqlite", None), ("postgresql", url)):
        sub = folder / f"gui-{name}"
        sub.mkdir(parents=True, exist_ok=True)
        db, built = make_store(sub, images, 0, target)
        with open_store(db) as store:
            queries = time_queries(store, checkpoints(store)[0]["checkpoint"])
        window = bench_window(db, sub)
        slowest = max(v for k, v in queries.items() if k != "snapshot_load")
        out[name] = {"pairs": built["pairs"], "store_build_s": built["store_build_s"],
                     "open_s": window["open_s"], "next_ms_p95": window["next_ms_p95"],
                     "review_ms_p95": window["review_ms_p95"], "slowest_query_ms": slowest,
                     "snapshot_load_ms": queries["snapshot_load"]}
    return out


def bench_curators(url: str, verdicts: int, folder: Path, curators: int = 8) -> dict:
    env = {**os.environ, "WSP_JOURNAL_DIR": str(folder / "journals")}
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "curator_sim.py"), url,
                               f"bench{k}", str(verdicts), str(k)], env=env, text=True,
                              stdout=subprocess.PIPE) for k in range(curators)]
    given = sum(json.loads(p.communicate()[0].strip().splitlines()[-1])["given"] for p in procs)
    seconds = time.perf_counter() - t0
    return {"curators": curators, "verdicts": given, "seconds": round(seconds, 1),
            "team_verdicts_per_s": round(given / seconds, 1)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--import-images", type=int, default=50_000)
    parser.add_argument("--gui-images", type=int, default=30_000)
    parser.add_argument("--verdicts", type=int, default=200, help="per simulated curator")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args(argv)
    problem = why_not()
    if problem:
        raise SystemExit(f"bench_team: {problem}")
    with work_folder(args.keep) as folder:
        server = Server(folder / "pg").start() if os.geteuid() != 0 else \
            Server(Path(__import__("tempfile").mkdtemp(prefix="wsp-pg-"))).start()
        try:
            result: dict = {"cpus": os.cpu_count()}
            result["import"] = bench_import(folder, args.import_images,
                                            server.new_database("import"))
            gui_url = server.new_database("gui")
            result["desk"] = bench_desk(folder, args.gui_images, gui_url)
            result["team"] = bench_curators(gui_url, args.verdicts, folder)
        finally:
            server.stop()
    imp, desk = result["import"], result["desk"]
    result["ratios"] = {
        "import": round(imp["postgresql"]["import_s"] / imp["sqlite"]["import_s"], 2),
        **{k: round(desk["postgresql"][k] / desk["sqlite"][k], 2)
           for k in ("open_s", "next_ms_p95", "slowest_query_ms")}}
    r = result["ratios"]
    result["targets_met"] = {"import_within_2x": r["import"] <= 2.0,
                             "open_within_1_5x": r["open_s"] <= 1.5,
                             "next_p95_within_1_5x": r["next_ms_p95"] <= 1.5,
                             "slowest_query_within_1_5x": r["slowest_query_ms"] <= 1.5}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
