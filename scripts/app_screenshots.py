"""Screenshots of the desktop app for docs/, taken from the real window (run under Xvfb).

Works on a copy of a store (default: the one `make demo` builds, which a model has scored). To
fill the statistics, a simulated curator reviews the first pairs of the random QA queue by the
synthetic world's 3D truth (accept when the automatic label is right, flip when wrong), so the
QA estimate shown can be checked against the measured label noise. Then it runs a short
pre-training from the Jobs tab, evaluates the demo's 3D checkpoint in the 3D tab, and predicts
on a real COCO sample in the Photo tab.

Usage: scripts/with_display.sh .venv/bin/python scripts/app_screenshots.py [--db demo-out/store.db]
       [--out docs] [--reviews 60] [--ckpt demo-out/ft-run/last.pt] [--world demo-out/world]
The last line printed is one JSON object: the files written and the QA estimate.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path


def truth_by_pair(db: Path) -> dict[int, int]:
    from wsp_core.store import iter_export, open_store

    with open_store(db, create=False) as store:
        return {row["pair_id"]: row["truth"] for row in iter_export(store, with_truth=True)
                if row["truth"] is not None}


def wait(app, tab, rounds: int = 40) -> None:
    for _ in range(rounds):
        app.processEvents()
        tab.loader.wait(200)
    app.processEvents()


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("demo-out/store.db"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--reviews", type=int, default=60)
    parser.add_argument("--ckpt", type=Path, default=Path("demo-out/ft-run/last.pt"))
    parser.add_argument("--world", type=Path, default=Path("demo-out/world"))
    parser.add_argument("--only-photo", action="store_true",
                        help="only the Photo tab's detection shot (app_photo_detect.png)")
    parser.add_argument("--photo", type=Path,
                        default=Path("../shared/real-samples/coco/000000196141.jpg"))
    args = parser.parse_args(argv)
    if not args.db.exists():
        sys.exit(f"app_screenshots: {args.db}: no such store (run `make demo` first)")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from wsp_app.window import MainWindow

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "store.db"
        shutil.copy(args.db, db)
        truth = truth_by_pair(db)
        app = QApplication.instance() or QApplication([])
        window = MainWindow(QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat),
                            reviewer="curator")
        window.resize(1500, 900)
        window.show()
        if args.only_photo:
            return {"files": [photo_detected(app, window, Path(tmp), args)]}
        window.open_store(db)
        tab = window.pairs
        tab.filters.set_queue_kind("qa")
        tab.filters.apply_now()
        done = 0
        while done < args.reviews and tab.session.current is not None:
            pair = tab.session.current
            if pair in truth:
                auto = tab.desk.index.auto_label_of(pair)
                tab.review("accept" if truth[pair] == auto else "flip",
                           None if truth[pair] == auto else "stairs")
            else:
                tab.review("accept")
            done += 1
        tab.writer.flush(60)
        tab.refresh_stats()
        files = []
        wait(app, tab)
        files.append(_save(window, args.out / "desk_blind.png"))  # the QA queue is blind
        files.append(depth_order(app, window, args.out / "desk_depth_order.png"))
        tab.filters.set_queue_kind("suspicious")
        tab.filters.apply_now()
        tab.first()
        wait(app, tab)
        files.append(_save(window, args.out / "desk_pairs.png"))
        files += pair_view_states(app, window, args.out)
        tab.side.setCurrentWidget(tab.stats)
        wait(app, tab)
        files.append(_save(window, args.out / "desk_statistics.png"))
        tab.side.setCurrentWidget(tab.history)
        tab.review("flip", "hugging")
        tab.undo()
        tab.writer.flush(60)
        wait(app, tab)
        files.append(_save(window, args.out / "desk_history.png"))
        window.show_help()
        wait(app, tab)
        files.append(_save(window.help_dialog, args.out / "desk_shortcuts.png"))
        estimate = tab.stats.last["estimate"]
        window.help_dialog.close()
        files += other_tabs(app, window, Path(tmp), args)
        window.close()
    result = {"files": files, "qa_estimate": estimate}
    print(json.dumps(result))
    return result


def depth_order(app, window, out: Path) -> str:
    """The depth-order mode on the first image with at least four persons to order, three of
    them numbered (the nearest first by their ankles), before Return."""
    tab = window.pairs
    tab.filters.set_queue_kind("order")
    tab.filters.apply_now()
    tab.first()
    while len(tab.desk.image_persons()) < 4 and tab.desk.position + 1 < len(tab.desk.queue):
        tab.next()
    tab.start_order()
    for person in sorted(tab.desk.image_persons(), key=lambda p: -p.ankle_y)[:3]:
        tab._rank_person(person.person_id, False)
    wait(app, tab)
    path = _save(window, out)
    tab.cancel_order()
    return path


def pair_view_states(app, window, out: Path) -> list[str]:
    """The same pair zoomed to both persons (Z), with the A|B strip (V), and with its overlays
    hidden (H twice: shown → dimmed → hidden); each undone after its picture."""
    tab, files = window.pairs, []
    for name, actions, undo in (("desk_zoom_pair.png", ["zoom_pair"], ["zoom_fit"]),
                                ("desk_strip.png", ["strip"], ["strip"]),
                                ("desk_overlays_hidden.png", ["overlays", "overlays"],
                                 ["overlays"])):
        for action in actions:
            window.actions[action].trigger()
        wait(app, tab, 10)
        files.append(_save(window, out / name))
        for action in undo:
            window.actions[action].trigger()
    return files


def until(app, done, timeout_s: float = 600.0) -> None:
    import time

    start = time.monotonic()
    while not done():
        if time.monotonic() - start > timeout_s:
            raise SystemExit("app_screenshots: timed out waiting for the app")
        app.processEvents()
        time.sleep(0.02)


def compare_pretrain_runs(app, jobs) -> bool:
    """Select every pre-training job of the store and compare them (curves of the training
    loss overlaid, configs side by side)."""
    from PySide6.QtCore import QItemSelectionModel

    jobs.refresh_jobs()
    jobs.jobs.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for r in range(jobs.jobs.rowCount()):
        if jobs.jobs.item(r, 1).text() == "pretrain":
            jobs.jobs.selectionModel().select(jobs.jobs.model().index(r, 0), flags)
    if not jobs.compare_runs():
        return False
    jobs.measure.setCurrentText("loss")
    app.processEvents()
    return True


def other_tabs(app, window, tmp: Path, args) -> list[str]:
    """The Jobs tab after a short run, the 3D tab on evaluation samples, the Photo tab."""
    files = []
    jobs = window.jobs
    window.tabs.setCurrentWidget(jobs)
    jobs.set_values("pretrain", {"out": str(tmp / "run"), "preset": "smoke",
                                 "set": "epochs=6 max_pairs=96 val_fraction=0.3"})
    jobs.launch()
    until(app, lambda: not jobs.running())
    files.append(_save(window, args.out / "app_jobs.png"))
    if compare_pretrain_runs(app, jobs):
        files.append(_save(window, args.out / "app_jobs_compare.png"))
    view = window.view3d
    window.tabs.setCurrentWidget(view)
    view.ckpt.setText(str(args.ckpt))
    view.data.setText(f"synth:{args.world}")
    view.evaluate()
    until(app, lambda: view.samples is not None or not view.busy())
    if view.samples is not None:  # a typical sample (the median error) rather than the worst
        view.table.selectRow(len(view.samples["mpjpe"]) // 2)
    for _ in range(20):
        app.processEvents()
    files.append(_save(window, args.out / "app_3d.png"))
    photo = window.photo
    window.tabs.setCurrentWidget(photo)
    photo.open_image(args.photo)
    photo.load_boxes(args.photo.parent / "test_coco.json")
    photo.ckpt.setText(str(args.ckpt))
    photo.predict()
    until(app, lambda: photo.result is not None or not photo.busy())
    for _ in range(20):
        app.processEvents()
    files.append(_save(window, args.out / "app_photo.png"))
    files.append(photo_detected(app, window, tmp, args))
    return files


def photo_detected(app, window, tmp: Path, args) -> str:
    """The Photo tab on a synthetic image: HOG's proposed boxes accepted, the 3D model exported
    to ONNX and run in the app's process."""
    import json
    import subprocess

    onnx = tmp / "pose.onnx"
    subprocess.run([sys.executable, "-m", "wsp_core.cli", "export-onnx", "--ckpt",
                    str(args.ckpt), "--out", str(onnx)], check=True)
    scenes = json.loads((args.world / "scenes.json").read_text())
    photo = window.photo
    window.tabs.setCurrentWidget(photo)
    photo.ckpt.setText(str(onnx))
    for image in scenes["images"][:40]:
        photo.open_image(args.world / image["file_name"])
        photo.detect()
        until(app, lambda: not photo.background.busy())
        if len(photo.canvas.proposals) >= 2:
            break
    photo.accept_all()
    photo.predict()
    until(app, lambda: photo.result is not None or not photo.busy())
    for _ in range(20):
        app.processEvents()
    return _save(window, args.out / "app_photo_detect.png")


def _save(widget, path: Path) -> str:
    widget.grab().save(str(path))
    return str(path)


if __name__ == "__main__":
    main()
