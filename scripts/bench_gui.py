"""Benchmark of the curator's desk on a store of about 220,000 pairs (the paper's MCPC
has 220,000 persons; its pairs number more).

Generates a COCO-style source (bench_labels' generator; every image a hard link to one of 24
distinct 640×480 JPEGs), imports it, scores every pair with a made-up model (so the suspicious
queue sorts by disagreement) and adds 2,000 reviews; then, in this one process, on Qt's
offscreen platform, measures:

- ``open_s``: opening the store in the window (queue, first pair, statistics);
- ``next_ms_p50/p95``: next pair with a warm image cache (the key handler and the repaint;
  target p95 ≤ 30 ms), and ``next_cold_ms_p50/p95`` until the image is read when not cached;
- ``review_ms_p50/p95``: a verdict key (hand-off to the writer, advance, show the next pair);
- ``order_ms_p50/p95``: the depth-order mode's Return on an image whose persons are all
  numbered (every pair's verdict derived and handed to the writer, the next image shown, read
  ahead while the persons were clicked; target p95 ≤ 50 ms), ``order_commit_ms_p50/p95`` from
  Return until the writer has committed every verdict of the image (its one transaction, on its
  own thread, while the window paints), and ``order_pairs_mean`` the pairs an image held;
- ``query_ms``: each filter and queue query in wsp_core, as the desk runs them on its snapshot
  of the pairs table (target ≤ 100 ms), and the snapshot's own load (at open and refresh); and
  ``apply_filter_ms``: a filter change applied in the window (query, list reset, pair, stats);
- ``learned_open_ms``: choosing the learned queue until it is shown (in the order before any
  verdict, from the snapshot), and ``learned_ranked_ms`` until its first ranking, which reads
  every pair's features on the app's worker thread, is shown;
  ``learned_review_ms_p50/p95``: verdict keys on it with its re-ranking on (every RERANK_EVERY
  verdicts: the fit on the app's worker thread; target p95 ≤ 30 ms, the next pair's),
  ``rerank_gui_ms_p50/p95`` a re-rank's time on the GUI thread (the snapshot handed over, the new
  order shown) and ``rerank_worker_ms_p50/p95`` the worker's (the fit and the new order);
- ``gc_full_ms``: a full garbage collection with the store open, the longest pause the window's
  GUI-thread collector (ADR 0010) can add to a key press; ``gc_runs``: the collections it ran
  during the measurements above, per generation, and ``gc_pause_ms_max``, the longest of them.

Usage: python scripts/bench_gui.py [--images 30000] [--keep DIR] [--db postgresql://…]
(``--db``: the store is built in that empty server database, not a file; the ratios against
SQLite in one run: scripts/bench_team.py.)
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_labels import bench_args, generate, work_folder  # noqa: E402


def make_store(folder: Path, n_images: int, seed: int,
               url: str | None = None) -> tuple[Path | str, dict]:
    """The benchmark's store: ``folder/gui.db``, or the (empty) server database at ``url``."""
    from PIL import Image

    from wsp_core.formats import read_source
    from wsp_core.store import add_review, import_source, label_source, open_store
    from wsp_core.store.browse import load_queue
    from wsp_core.store.predictions import write_predictions

    t0 = time.perf_counter()
    ann, images_dir, _ = generate(folder, n_images, seed)
    rng = np.random.default_rng(seed)
    variants = []
    for k in range(24):
        pixels = (rng.random((480, 640, 3)) * 60 + rng.integers(60, 180, 3)).astype(np.uint8)
        path = folder / f"variant{k}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        variants.append(path)
    for i, target in enumerate(sorted(images_dir.iterdir())):
        target.unlink()
        os.link(variants[i % len(variants)], target)
    db = url or folder / "gui.db"
    if url is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    with open_store(db) as store:
        report = import_source(store, label_source(read_source("coco", ann, images_dir)),
                               "bench-coco")
        ids = load_queue(store).ids
        write_predictions(store, str(folder / "run" / "best.pt"), ids.tolist(),
                          rng.random(len(ids)).tolist())
        for pair in rng.choice(ids, 2000, replace=False):
            add_review(store, int(pair), str(rng.choice(["accept", "flip", "exclude"])),
                       reviewer="bench")
    return db, {"pairs": report.pairs, "store_build_s": round(time.perf_counter() - t0, 1),
                "db_mb": None if url else round(db.stat().st_size / 2**20, 1)}


def percentiles(times_s: list[float]) -> tuple[float, float]:
    ms = np.array(times_s) * 1000
    return round(float(np.percentile(ms, 50)), 2), round(float(np.percentile(ms, 95)), 2)


def time_queries(store, checkpoint: str) -> dict:
    from wsp_core.store.browse import (PairFilter, PairIndex, load_qa, pair_detail, pair_rows,
                                       qa_estimate, review_activity)

    index = PairIndex(store)
    load_queue = index.queue  # as the desk runs them: on its snapshot of the pairs table

    cases = {
        "snapshot_load": lambda: PairIndex(store),
        "in_order": lambda: load_queue(),
        "suspicious": lambda: load_queue(kind="suspicious", checkpoint=checkpoint),
        "qa": lambda: load_queue(kind="qa"),
        "status_auto": lambda: load_queue(PairFilter(statuses=("auto",))),
        "status_reviewed": lambda: load_queue(PairFilter(
            statuses=("accept", "flip", "ambiguous", "exclude"))),
        "source": lambda: load_queue(PairFilter(sources=("bench-coco",))),
        "delta_s_range": lambda: load_queue(PairFilter(delta_s_min=0.0, delta_s_max=0.1)),
        "image_name": lambda: load_queue(PairFilter(image="0123")),
        "disagree": lambda: load_queue(PairFilter(disagree=True), checkpoint=checkpoint),
        "suspicious_unreviewed_disagree": lambda: load_queue(
            PairFilter(statuses=("auto",), disagree=True), "suspicious", checkpoint),
        "qa_estimate": lambda: qa_estimate(load_qa(store, index=index)),
        "page_of_rows": lambda: pair_rows(store, range(1000, 1200), checkpoint),
        "pair_detail": lambda: pair_detail(store, 1000, checkpoint),
        "review_activity": lambda: review_activity(store),
    }
    out = {}
    for name, run in cases.items():
        run()  # warm the page cache
        out[name] = round(min(_timed(run) for _ in range(3)) * 1000, 1)
    return out


def _timed(run) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def bench_learned_queue(app, tab, settle) -> dict:
    """The learned queue: choosing it (its features read from the store), then verdict keys
    with its re-ranking on (every RERANK_EVERY verdicts: the fit on the app's worker thread, the
    new order shown on the GUI thread): the verdict keys' times, the re-ranks' GUI-thread time
    (the snapshot handed to the worker and the new order shown) and the worker's."""
    from wsp_core.suspect import RERANK_EVERY

    tab.filters.set_queue_kind("learned")
    t = time.perf_counter()
    tab.filters.apply_now()
    settle()
    open_ms = (time.perf_counter() - t) * 1000
    while tab.desk._ranker is None:                 # the first ranking, on the worker
        app.processEvents()
        time.sleep(0.005)
    ranked_ms = (time.perf_counter() - t) * 1000
    desk, gui, worker = tab.desk, [], []
    rerank_work, apply_rerank = desk.rerank_work, desk.apply_rerank

    def timed_work():
        t0 = time.perf_counter()
        work = rerank_work()
        gui.append(time.perf_counter() - t0)
        if work is None:
            return None

        def timed():
            t1 = time.perf_counter()
            out = work()
            worker.append(time.perf_counter() - t1)
            return out
        return timed

    def timed_apply(result) -> bool:
        t0 = time.perf_counter()
        done = apply_rerank(result)
        gui[-1] += time.perf_counter() - t0
        return done

    desk.rerank_work, desk.apply_rerank = timed_work, timed_apply
    keys = []
    for k in range(10 * RERANK_EVERY):
        t0 = time.perf_counter()
        tab.review("accept" if k % 4 else "flip")
        settle()
        keys.append(time.perf_counter() - t0)
        deadline = time.perf_counter() + tab.RERANK_DELAY_MS / 1000 + 0.02
        while time.perf_counter() < deadline:  # a curator's pause: the re-rank's timer fires
            app.processEvents()
    tab.background.wait()
    app.processEvents()
    desk.rerank_work, desk.apply_rerank = rerank_work, apply_rerank
    tab.writer.flush(60)
    tab.filters.set_queue_kind("suspicious")
    tab.filters.apply_now()
    settle()
    p50, p95 = percentiles(keys)
    r50, r95 = percentiles(gui) if gui else (None, None)
    w50, w95 = percentiles(worker) if worker else (None, None)
    return {"learned_open_ms": round(open_ms, 1), "learned_ranked_ms": round(ranked_ms, 1),
            "learned_review_ms_p50": p50,
            "learned_review_ms_p95": p95, "learned_reranks": len(gui),
            "rerank_gui_ms_p50": r50, "rerank_gui_ms_p95": r95,
            "rerank_worker_ms_p50": w50, "rerank_worker_ms_p95": w95}


def bench_window(db: Path | str, folder: Path) -> dict:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from wsp_app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    pauses: list[tuple[int, float]] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append((info["generation"], time.perf_counter() - started.pop()))

    gc.callbacks.append(on_gc)
    window = MainWindow(QSettings(str(folder / "bench.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 860)
    window.show()
    app.processEvents()
    t0 = time.perf_counter()
    window.open_store(db)
    app.processEvents()
    open_s = time.perf_counter() - t0
    tab = window.pairs

    def settle() -> None:  # handles the posted events, the repaints of the window included
        app.processEvents()

    for _ in range(60):  # warm the image cache: 24 distinct files
        tab.next()
        tab.loader.wait()
        settle()
    tab.go(0)
    warm = []
    for _ in range(400):
        t = time.perf_counter()
        tab.next()
        settle()
        warm.append(time.perf_counter() - t)
    cold = []
    for _ in range(60):
        tab.loader._cache.clear()
        t = time.perf_counter()
        tab.next()
        while tab.view.placeholder is not None:
            app.processEvents()
        cold.append(time.perf_counter() - t)
    reviews = []
    for k in range(200):
        t = time.perf_counter()
        tab.review("accept" if k % 3 else "flip")
        settle()
        reviews.append(time.perf_counter() - t)
    tab.writer.flush(60)
    orders, commits, ordered_pairs = [], [], []
    for _ in range(150):  # the depth-order mode: a whole image's verdicts in one step
        tab.start_order()
        if tab.ordering is None:
            tab.next()
            continue
        for person in tab.desk.image_persons():
            tab._rank_person(person.person_id, False)
        tab.loader.wait()  # the clicks take a curator seconds: the next images are read ahead
        settle()
        before = tab.desk.queue.reviewed()
        t = time.perf_counter()
        tab.finish_order()
        settle()
        orders.append(time.perf_counter() - t)
        tab.writer.flush(60)
        commits.append(time.perf_counter() - t)  # Return → every verdict committed
        ordered_pairs.append(tab.desk.queue.reviewed() - before)
    learned = bench_learned_queue(app, tab, settle)
    filters = []
    for status in ("auto", "", "reviewed", ""):
        tab.filters.set_status(status)
        t = time.perf_counter()
        tab.filters.apply_now()
        settle()
        filters.append(time.perf_counter() - t)
    gc.callbacks.remove(on_gc)
    gc_full = []
    for _ in range(5):
        t = time.perf_counter()
        gc.collect()
        gc_full.append(time.perf_counter() - t)
    result = {"open_s": round(open_s, 2), "gc_full_ms": round(max(gc_full) * 1000, 1),
              **learned,
              "gc_runs": [sum(1 for g, _ in pauses if g == k) for k in range(3)],
              "gc_pause_ms_max": round(max((t for _, t in pauses), default=0) * 1000, 1)}
    result["next_ms_p50"], result["next_ms_p95"] = percentiles(warm)
    result["next_cold_ms_p50"], result["next_cold_ms_p95"] = percentiles(cold)
    result["review_ms_p50"], result["review_ms_p95"] = percentiles(reviews)
    result["order_ms_p50"], result["order_ms_p95"] = percentiles(orders)
    result["order_commit_ms_p50"], result["order_commit_ms_p95"] = percentiles(commits)
    result["order_images"], result["order_pairs_mean"] = len(orders), \
        round(float(np.mean(ordered_pairs)), 1) if ordered_pairs else None
    result["apply_filter_ms_max"] = round(max(filters) * 1000, 1)
    window.grab().save(str(folder / "bench_window.png"))
    window.close()
    return result


def main(argv=None) -> dict:
    args = bench_args(__doc__, 30_000, argv, db=True)
    from wsp_core.store import open_store
    from wsp_core.store.browse import checkpoints

    with work_folder(args.keep) as folder:
        db, result = make_store(folder, args.images, args.seed, args.db)
        result["cpus"] = os.cpu_count()
        with open_store(db) as store:
            result["query_ms"] = time_queries(store, checkpoints(store)[0]["checkpoint"])
        result.update(bench_window(db, folder))
        queries = {k: v for k, v in result["query_ms"].items() if k != "snapshot_load"}
        result["slowest_query_ms"] = max(queries.values())
        result["targets_met"] = {"next_p95_le_30ms": result["next_ms_p95"] <= 30,
                                 "queries_le_100ms": result["slowest_query_ms"] <= 100,
                                 "order_p95_le_50ms": result["order_ms_p95"] <= 50,
                                 "learned_review_p95_le_30ms":
                                     result["learned_review_ms_p95"] <= 30}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
