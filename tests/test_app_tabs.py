"""The Jobs, 3D and Photo tabs, driven on the real window (under Xvfb: `make test`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from conftest import press, run_cli, sample, saved  # noqa: E402
from wsp_core.store import open_store  # noqa: E402
from wsp_core.store.jobs import list_jobs  # noqa: E402

needs_gl = pytest.mark.skipif(os.environ.get("QT_QPA_PLATFORM") == "offscreen",
                              reason="OpenGL needs a display: run under Xvfb (make test)")
JOB_TIMEOUT_MS = 180_000


@pytest.fixture
def db(desk_db) -> Path:
    return desk_db


def finished(qtbot, jobs) -> None:
    qtbot.waitUntil(lambda: not jobs.running(), timeout=JOB_TIMEOUT_MS)


def jobs_in_store(db: Path) -> list[dict]:
    with open_store(db, create=False) as st:
        return list_jobs(st)


# -- Jobs --------------------------------------------------------------------------------------
def test_a_job_runs_to_the_end_with_live_curves_and_its_evaluation_tables(
        qtbot, window, db, tmp_path):
    win = window(db)
    jobs = win.jobs
    run = tmp_path / "run"
    jobs.set_values("pretrain", {"out": str(run), "preset": "smoke",
                                 "set": "epochs=2 max_pairs=32 val_fraction=0.3"})
    assert jobs.values()["db"] == str(db.resolve())  # the open store, by default
    assert jobs.launch()
    assert not jobs.launch_button.isEnabled()
    finished(qtbot, jobs)
    assert "pretrain finished" in jobs.message.text()
    xs, ys = jobs.curves["step:loss"].getData()
    assert len(xs) >= 4 and np.isfinite(ys).all()  # smoke: several steps an epoch, 2 epochs
    assert len(jobs.curves["epoch:val_auc"].getData()[0]) == 2  # validation, per epoch
    assert "epoch:loss" not in jobs.curves  # training losses are the step curves
    assert jobs.progress_bar.value() == jobs.progress_bar.maximum()
    assert (run / "best.pt").exists()
    rows = [j for j in jobs_in_store(db) if j["kind"] == "pretrain"]
    assert rows and rows[-1]["status"] == "finished"
    jobs.refresh_jobs()
    assert jobs.jobs.item(0, 1).text() == "pretrain" and jobs.jobs.item(0, 2).text() == "finished"
    jobs.form.kind.setCurrentText("eval-rd")   # the last run's checkpoint, the store kept
    assert jobs.values()["ckpt"] == str(run / "last.pt") and jobs.values()["db"] == str(db.resolve())
    jobs.form.kind.setCurrentText("finetune")  # it starts from the pre-trained network
    assert jobs.values()["init"] == str(run / "last.pt")
    jobs.set_values("finetune", {"data": "synth:/some/world", "set": "epochs=3",
                                 "protocol": "all"})
    jobs.form.kind.setCurrentText("pretrain")  # typed values follow the fields of that name
    assert jobs.values()["set"] == "epochs=3" and jobs.values()["out"] == str(run)
    jobs.form.kind.setCurrentText("finetune")
    assert (jobs.values()["data"], jobs.values()["protocol"]) == ("synth:/some/world", "all")
    jobs.form.kind.setCurrentText("eval-rd")
    jobs.set_values("eval-rd", {"ckpt": str(run / "best.pt"), "db": str(db)})
    assert jobs.launch()
    finished(qtbot, jobs)
    assert "RD protocol 1 (by scale gap)" in jobs.result.toPlainText()
    assert "AUC" in jobs.result.toPlainText()
    log = [json.loads(line) for line in jobs.view.log.toPlainText().splitlines()
           if line.startswith("{")]                  # an evaluation shows its progress too
    steps = [e for e in log if e.get("event") == "step"]
    assert log[0]["event"] == "start" and log[0]["epochs"] == 2     # RD protocols 1 and 2
    assert steps and steps[-1]["epoch"] == 1 and steps[-1]["step"] == steps[-1]["steps"]
    assert jobs.runner.progress.fraction == pytest.approx(1.0)
    evals = [j for j in jobs_in_store(db) if j["kind"] == "eval-rd"]
    # the command recorded itself in the store it was given (the tab records nothing)
    assert evals and evals[-1]["status"] == "finished"
    assert evals[-1]["metrics"]  # its --json result
    jobs.refresh_jobs()
    for row in range(jobs.jobs.rowCount()):  # a past job shows its curves and its result
        if jobs.jobs.item(row, 1).text() == "pretrain":
            jobs.jobs.selectRow(row)
    assert len(jobs.curves["epoch:val_auc"].getData()[0]) == 2 and "epoch-loss:loss" in jobs.curves
    jobs.jobs.selectRow(0)
    assert "RD protocol 1" in jobs.result.toPlainText()


def test_cancel_leaves_a_resumable_checkpoint_and_resume_finishes(qtbot, window, db, tmp_path):
    win = window(db)
    jobs = win.jobs
    run = tmp_path / "run"
    jobs.set_values("pretrain", {"out": str(run), "preset": "smoke",
                                 "set": "epochs=3 max_pairs=48"})
    assert jobs.launch()
    qtbot.waitUntil(lambda: "epoch:val_auc" in jobs.curves, timeout=JOB_TIMEOUT_MS)
    jobs.cancel()
    finished(qtbot, jobs)
    assert jobs.runner.status == "stopped" and "Resume" in jobs.message.text()
    assert jobs.view.eta.text() == "stopped" and jobs.progress_bar.value() < 1000
    assert (run / "last.pt").exists() and not (run / "STOP").exists()
    assert [j["status"] for j in jobs_in_store(db) if j["kind"] == "pretrain"] == ["stopped"]
    done = len((run / "metrics.jsonl").read_text().splitlines())
    assert jobs.resume_button.isEnabled()
    assert jobs.resume()
    assert len(jobs.curves["epoch:val_auc"].getData()[0]) == done  # the earlier epochs, at once
    finished(qtbot, jobs)
    assert "pretrain finished" in jobs.message.text()
    rows = (run / "metrics.jsonl").read_text().splitlines()
    epochs = [json.loads(line)["epoch"] for line in rows]
    assert epochs == [0, 1, 2]
    assert [j["status"] for j in jobs_in_store(db) if j["kind"] == "pretrain"] == ["finished"]


def test_a_killed_job_is_shown_as_died_and_resumable(qtbot, window, db, tmp_path):
    import socket
    import subprocess
    import sys
    import time

    from wsp_core.store.jobs import start_job

    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"")
    with open_store(db, create=False) as st:
        start_job(st, "pretrain", {}, run)                       # its row says running ...
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run / "heartbeat.json").write_text(json.dumps(              # ... its process is gone
        {"pid": gone.pid, "host": socket.gethostname(), "time": time.time()}))
    win = window(db)
    jobs = win.jobs
    jobs.refresh_jobs()
    assert jobs.jobs.item(0, 1).text() == "pretrain" and jobs.jobs.item(0, 2).text() == "died"
    jobs.jobs.selectRow(0)
    assert "died" in jobs.message.text() and "Resume continues it" in jobs.message.text()
    assert jobs.resume_button.isEnabled()


def test_a_crashing_job_shows_its_error_and_the_app_keeps_working(qtbot, window, db, tmp_path):
    win = window(db)
    jobs = win.jobs
    jobs.set_values("pretrain", {"db": str(tmp_path / "missing.db"), "out": str(tmp_path / "r"),
                                 "preset": "smoke", "set": ""})
    assert jobs.launch()
    finished(qtbot, jobs)
    assert "pretrain failed" in jobs.message.text() and "no such store" in jobs.message.text()
    jobs.set_values("pretrain", {"db": str(db), "set": "epochs=many"})
    assert jobs.launch()
    finished(qtbot, jobs)
    assert "pretrain failed" in jobs.message.text() and "epochs" in jobs.message.text()
    jobs.set_values("synth", {"out": "", "images": "3"})
    assert not jobs.launch()  # refused before it starts: the form names the field
    assert "output folder: required" in jobs.message.text()
    assert jobs.launch_button.isEnabled()
    win.tabs.setCurrentWidget(win.pairs)
    press(qtbot, win, Qt.Key.Key_Space)
    saved(qtbot, win)
    assert win.pairs.session.queue.reviewed() == 1


def test_closing_with_a_running_job_asks_and_leaves_no_process(qtbot, window, db, tmp_path,
                                                               monkeypatch):
    win = window(db)
    jobs = win.jobs
    jobs.set_values("pretrain", {"out": str(tmp_path / "run"), "preset": "smoke",
                                 "set": "epochs=200 max_pairs=64"})
    assert jobs.launch()
    qtbot.waitUntil(lambda: "step:loss" in jobs.curves, timeout=JOB_TIMEOUT_MS)
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert not win.close()  # "No": the window and the job stay
    assert jobs.running()
    pid = jobs.runner.pid()
    assert win.close()
    assert not jobs.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert (tmp_path / "run" / "last.pt").exists()  # stopped gracefully: resumable


# -- 3D and Photo --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ckpt_3d(tmp_path_factory, desk_store) -> tuple[Path, Path]:
    """A smoke 3D checkpoint trained on the test store's synthetic world, and that world."""
    world = desk_store.parent / "world"
    out = tmp_path_factory.mktemp("ft3d") / "ft"
    run_cli("finetune", "--data", f"synth:{world}", "--init", "none", "--out", out,
            "--preset", "smoke", "--set", "epochs=1", "--progress", "none")
    return out / "last.pt", world


@needs_gl
def test_the_3d_view_draws_a_skeleton_in_its_colour_at_its_joints(qtbot, tmp_path):
    from wsp_app.scene import PERSON_COLOURS, SceneModel, side_by_side
    from wsp_app.viewer3d import SkeletonView
    from wsp_core.skeleton import H36M, bones

    model = SceneModel()
    view = SkeletonView(model)
    qtbot.addWidget(view)
    view.resize(700, 560)
    view.show()
    qtbot.waitExposed(view)
    rng = np.random.default_rng(4)
    joints = rng.uniform(-600, 600, (17, 3))
    joints[0] = 0
    model.set_skeletons(side_by_side([joints], bones(H36M), tuple(H36M.joints)))
    image = view.render()
    pixels = view.joint_pixels(0)
    colour = np.array(PERSON_COLOURS[0]) * 255
    h, w = image.shape[:2]
    hits = 0
    for x, y in pixels:
        assert 0 <= x < w and 0 <= y < h, "a joint is off the canvas"
        patch = image[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2, :3]
        hits += bool((np.abs(patch.astype(float) - colour).max(axis=-1) < 40).any())
    assert hits == len(pixels)
    background = image[2, 2, :3].astype(float)
    assert np.abs(background - colour).max() > 100
    x, y = pixels[5]
    view._on_press(type("Press", (), {"pos": (x + 2, y - 1)})())
    assert model.picked == (0, 5) and H36M.joints[5] in view.info.text()
    assert "person 1" in view.legend.text() and "⚠" not in view.legend.text()
    assert view.by_error.isHidden()                 # no truth: no colouring by error
    from wsp_app.scene import sample_skeletons

    model.set_skeletons(sample_skeletons(joints + 5.0, joints, bones(H36M), tuple(H36M.joints)))
    assert not view.by_error.isHidden() and "ground truth" in view.legend.text()
    point = np.tile(joints.mean(0), (17, 1)) + rng.normal(0, 5, (17, 3))  # collapsed
    model.set_skeletons(sample_skeletons(point, None, bones(H36M), tuple(H36M.joints)))
    assert view.by_error.isHidden() and "⚠ prediction: every joint within" in view.legend.text()
    model.set_skeletons(side_by_side([joints], bones(H36M), tuple(H36M.joints)))
    view.save_png(str(tmp_path / "view.png"))
    from PIL import Image

    assert Image.open(tmp_path / "view.png").size == (w, h)


@needs_gl
def test_the_3d_tab_browses_evaluation_samples_worst_first_and_the_current_pair(
        qtbot, window, db, ckpt_3d):
    ckpt, world = ckpt_3d
    win = window(db)
    tab = win.view3d
    tab.ckpt.setText(str(ckpt))
    tab.data.setText(f"synth:{world}")
    tab.evaluate()
    qtbot.waitUntil(lambda: tab.samples is not None, timeout=JOB_TIMEOUT_MS)
    mpjpe = tab.samples["mpjpe"]
    assert tab.table.rowCount() == len(mpjpe) > 0 and list(mpjpe) == sorted(mpjpe, reverse=True)
    assert len(tab.model.skeletons) == 2 and tab.model.colour_by_error
    assert np.isclose(tab.model.skeletons[0].errors_mm.mean(), mpjpe[0])
    tab.show_pair()
    qtbot.waitUntil(lambda: [s.label for s in tab.model.skeletons] == ["person A", "person B"],
                    timeout=JOB_TIMEOUT_MS)
    assert all(s.joints_mm.shape == (17, 3) for s in tab.model.skeletons)


@needs_gl
def test_the_photo_flow_gives_the_json_of_wsp_core_predict(qtbot, window, ckpt_3d, tmp_path):
    ckpt, _ = ckpt_3d
    win = window()
    photo = win.photo
    image = sample("coco", "000000196141.jpg")
    assert photo.open_image(image)
    assert photo.load_boxes(sample("coco", "test_coco.json"))
    assert len(photo.canvas.boxes) == 5
    view = photo.canvas
    win.tabs.setCurrentWidget(photo)
    start, end = view.mapFromScene(20, 300), view.mapFromScene(90, 420)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=QPoint((start.x() + end.x()) // 2, end.y() - 5))
    qtbot.mouseMove(view.viewport(), pos=end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert len(photo.canvas.boxes) == 6  # one drawn with the mouse
    photo.ckpt.setText(str(ckpt))
    assert photo.predict()
    qtbot.waitUntil(lambda: photo.result is not None, timeout=JOB_TIMEOUT_MS)
    out = tmp_path / "photo.json"
    photo.export(out)
    result = json.loads(out.read_text())
    assert len(result["persons"]) == 6
    for person in result["persons"]:
        assert np.array(person["joints_mm"]).shape == (17, 3)
        assert np.allclose(person["joints_mm"][0], 0)  # root-relative
    assert len(photo.model.skeletons) == 6
    args = [a for box in photo.canvas.boxes for a in ("--box", ",".join(map(str, box)))]
    cli = json.loads(run_cli("predict", "--ckpt", ckpt, image, *args, "--json").stdout)
    assert np.allclose([p["joints_mm"] for p in cli["persons"]],
                       [p["joints_mm"] for p in result["persons"]], atol=0.11)

    def shown() -> bool:
        return bool(photo.model.skeletons or photo.canvas.persons
                    or photo.export_button.isEnabled() or photo.result)

    shown_result = photo.result
    photo.canvas.set_boxes(photo.canvas.boxes[:2])          # new boxes: the old prediction goes
    assert not shown()
    photo._show(shown_result)                                # a prediction on show again
    assert shown()
    photo.ckpt.setText(str(tmp_path / "missing.pt"))
    assert photo.predict()
    qtbot.waitUntil(lambda: photo.predict_button.isEnabled(), timeout=JOB_TIMEOUT_MS)
    assert not shown() and "missing.pt" in photo.message.text()   # failed: nothing stale left


@pytest.fixture(scope="module")
def onnx_3d(ckpt_3d, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "pose.onnx"
    run_cli("export-onnx", "--ckpt", ckpt_3d[0], "--out", out)
    return out


def _scene_point(view, x: float, y: float) -> QPoint:
    return view.mapFromScene(x, y)


@needs_gl
def test_the_photo_tab_proposes_boxes_to_accept_or_drop_and_predicts_with_onnx_in_process(
        qtbot, window, ckpt_3d, onnx_3d, tmp_path):
    """Detect people: dashed proposals; a click accepts one, a right click drops one, a box's
    edge is dragged to fit; an .onnx model predicts in the app's process (no wsp-core job)
    with predict --onnx's numbers."""
    import cv2

    _, world = ckpt_3d
    scenes = json.loads((world / "scenes.json").read_text())
    from wsp_core.infer.detect import HogDetector

    detector = HogDetector()
    name = next(im["file_name"] for im in scenes["images"]
                if len(detector(cv2.imread(str(world / im["file_name"])))) >= 2)
    win = window()
    photo = win.photo
    win.tabs.setCurrentWidget(photo)
    assert photo.open_image(world / name)
    assert photo.detect()
    qtbot.waitUntil(lambda: len(photo.canvas.proposals) >= 2, timeout=30_000)
    proposals = [b for b, _ in photo.canvas.proposals]
    view = photo.canvas
    (x, y, w, h), (x2, y2, w2, h2) = proposals[0], proposals[1]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=_scene_point(view, x + w / 2, y + h / 2))
    assert photo.canvas.boxes == [proposals[0]] and proposals[0] not in \
        [b for b, _ in photo.canvas.proposals]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.RightButton,
                     pos=_scene_point(view, x2 + w2 / 2, y2 + h2 / 2))
    assert proposals[1] not in [b for b, _ in photo.canvas.proposals]
    left = len(photo.canvas.proposals)
    photo.accept_all()
    assert len(photo.canvas.boxes) == 1 + left and not photo.canvas.proposals
    x, y, w, h = photo.canvas.boxes[0]                        # drag its right edge 30 px out
    start, end = _scene_point(view, x + w, y + h / 2), _scene_point(view, x + w + 30, y + h / 2)
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), pos=end)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    nx, ny, nw, nh = photo.canvas.boxes[0]
    assert (nx, ny, nh) == (x, y, h) and abs(nw - (w + 30)) <= 3, (w, nw)
    assert len(photo.canvas.boxes) == 1 + left                # an edit, not a new box
    view.grab().save(str(tmp_path / "photo.png"))
    photo.ckpt.setText(str(onnx_3d))
    assert photo.predict()
    qtbot.waitUntil(lambda: photo.result is not None, timeout=60_000)
    assert photo.call is None                                  # no wsp-core process ran
    assert photo.result["model"] == str(onnx_3d)
    assert len(photo.result["persons"]) == len(photo.canvas.boxes) == len(photo.model.skeletons)
    args = [a for box in photo.canvas.boxes for a in ("--box", ",".join(map(str, box)))]
    cli = json.loads(run_cli("predict", "--onnx", onnx_3d, world / name, *args,
                             "--json").stdout)
    assert np.allclose([p["joints_cam_mm"] for p in cli["persons"]],
                       [p["joints_cam_mm"] for p in photo.result["persons"]], atol=0.11)


@needs_gl
def test_the_photo_tab_steps_through_a_video_detecting_and_predicting_each_frame(
        qtbot, window, ckpt_3d, onnx_3d, tmp_path):
    import cv2

    from helpers import write_video

    _, world = ckpt_3d
    scenes = json.loads((world / "scenes.json").read_text())
    video = write_video(tmp_path / "walk.avi",
                        [cv2.imread(str(world / im["file_name"])) for im in scenes["images"][:3]])
    win = window()
    photo = win.photo
    win.tabs.setCurrentWidget(photo)
    photo.ckpt.setText(str(onnx_3d))
    photo.each_frame.setChecked(True)
    assert photo.open_frames(video)
    assert photo.frame_label.text() == "1 / 3" and not photo.prev_button.isEnabled()
    qtbot.waitUntil(lambda: not photo.background.busy(), timeout=60_000)
    qtbot.mouseClick(photo.next_button, Qt.MouseButton.LeftButton)
    assert photo.frame_label.text() == "2 / 3"
    qtbot.waitUntil(lambda: not photo.background.busy() and photo.predict_button.isEnabled(),
                    timeout=60_000)
    if photo.canvas.boxes:                                     # HOG found someone: predicted
        assert photo.result is not None and photo.result["image"] == "walk.avi#1"
        assert len(photo.result["persons"]) == len(photo.canvas.boxes)
    photo.step(1)
    assert photo.frame_label.text() == "3 / 3" and not photo.next_button.isEnabled()
    assert not photo.step(1)


def test_the_app_process_never_imports_torch(tmp_path, db, ckpt_3d):
    """Training and inference run in wsp-core processes (ADR 0009): a window with every tab,
    a store open, a pair shown and reviewed, an eval-rd and an eval-3d job finished and their
    tables shown, imports neither torch nor triton."""
    import subprocess
    import sys

    from conftest import ROOT

    ckpt, world = ckpt_3d
    run_cli("pretrain", "--db", db, "--out", tmp_path / "rd", "--preset", "smoke", "--set",
            "epochs=1", "--progress", "none")
    jobs = (
        "import time\n"
        "def finish(kind, values, expect):\n"
        "    w.jobs.set_values(kind, values)\n"
        "    assert w.jobs.launch()\n"
        "    start = time.monotonic()\n"
        "    while w.jobs.running() and time.monotonic() - start < 300:\n"
        "        app.processEvents(); time.sleep(0.02)\n"
        "    app.processEvents()\n"
        "    assert expect in w.jobs.result.toPlainText(), w.jobs.message.text()\n"
        "w.tabs.setCurrentWidget(w.jobs)\n"
        f"finish('eval-rd', {{'ckpt': {str(tmp_path / 'rd' / 'last.pt')!r}, 'db': {str(db)!r}}},"
        " 'RD protocol 1')\n"
        f"finish('eval-3d', {{'ckpt': {str(ckpt)!r}, 'data': 'synth:{world}', "
        "'protocol': 'all', 'workers': '0'}, 'MPJPE')\n")
    script = (
        "import sys\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from wsp_app.window import MainWindow\n"
        f"w = MainWindow(QSettings({str(tmp_path / 's.ini')!r}, QSettings.Format.IniFormat))\n"
        "w.show()\n"
        f"assert w.open_store({str(db)!r})\n"
        "w.pairs.review('accept'); w.pairs.writer.flush(10)\n"
        "for tab in range(w.tabs.count()): w.tabs.setCurrentIndex(tab); app.processEvents()\n"
        + jobs +
        "w.close()\n"
        "print(sorted(m for m in ('torch', 'triton', 'torchvision') if m in sys.modules))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_core_process_gets_the_apps_environment(qtbot, monkeypatch):
    """Jobs see the user's environment (PATH, HOME, CUDA_VISIBLE_DEVICES…), unbuffered."""
    import sys

    from wsp_app.process import run_core

    monkeypatch.setenv("WSP_TEST_MARK", "seen")
    out: list = []
    code = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in "
            "('WSP_TEST_MARK', 'PYTHONUNBUFFERED', 'PATH')}))")
    run_core(None, "env", [sys.executable, "-c", code], out.append, out.append)
    qtbot.waitUntil(lambda: bool(out), timeout=30000)
    assert out[0]["WSP_TEST_MARK"] == "seen" and out[0]["PYTHONUNBUFFERED"] == "1"
    assert out[0]["PATH"] == os.environ["PATH"]


def test_the_photo_export_never_overwrites_the_photo_or_the_checkpoint(qtbot, window, tmp_path):
    import shutil

    win = window()
    photo = win.photo
    image = Path(shutil.copy(sample("coco", "000000196141.jpg"), tmp_path / "me.jpg"))
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    assert photo.open_image(image)
    photo.ckpt.setText(str(ckpt))
    photo.result = {"persons": []}
    before = image.read_bytes()
    for target in (image, ckpt):
        assert not photo.export(target)
        assert "is the same file as the input" in photo.message.text()
    assert image.read_bytes() == before and ckpt.read_bytes() == b"weights"
    assert photo.export(tmp_path / "pose.json")
    assert json.loads((tmp_path / "pose.json").read_text()) == {"persons": []}


def test_runs_are_compared_curves_overlaid_and_config_differences_marked(
        qtbot, window, db, tmp_path):
    """Two finished runs (started from a terminal, so recorded by themselves) selected together:
    the metrics plot shows one curve per run of the chosen measure, and the configs sit side by
    side with the keys that differ first and marked."""
    from PySide6.QtCore import QItemSelectionModel

    runs = {}
    for name, lr in (("low", "1e-3"), ("high", "3e-3")):
        runs[name] = tmp_path / name
        run_cli("pretrain", "--db", db, "--out", runs[name], "--preset", "smoke", "--set",
                "epochs=2", "--set", "max_pairs=16", "--set", f"lr={lr}", "--set", "workers=0",
                "--progress", "none")
    win = window(db)
    jobs = win.jobs
    jobs.refresh_jobs()
    folders = {str(p) for p in runs.values()}
    rows = [r for r in range(jobs.jobs.rowCount()) if jobs.jobs.item(r, 3).text() in folders]
    assert len(rows) == 2
    model = jobs.jobs.selectionModel()
    for r in rows:
        model.select(jobs.jobs.model().index(r, 0), QItemSelectionModel.SelectionFlag.Select
                     | QItemSelectionModel.SelectionFlag.Rows)
    assert jobs.compare_runs()
    jobs.measure.setCurrentText("loss")
    items = jobs.metric_plot.plotItem.listDataItems()
    assert sorted(i.name() for i in items) == ["high", "low"]
    for item in items:
        xs, ys = item.getData()
        assert list(xs) == [1, 2] and np.isfinite(ys).all()
    table = jobs.configs
    assert table.item(0, 0).text() == "lr"                       # the difference comes first
    assert {table.item(0, 1).text(), table.item(0, 2).text()} == {"0.001", "0.003"}
    assert table.item(0, 0).background().color().name() != \
        table.item(table.rowCount() - 1, 0).background().color().name()
    jobs.jobs.clearSelection()
    assert not jobs.compare_runs() and "select one or more training jobs" in jobs.message.text()


def test_an_uncaught_exception_is_logged_and_shown_once(window, errors, tmp_path, caplog):
    """An exception escaping a slot or a thread goes to the log with its traceback; the first
    of its kind is shown in a dialog naming the log, a repeat only in the status bar."""
    import threading

    from wsp_app.crash import ExceptionReporter

    win = window()
    lines: list[str] = []
    reporter = ExceptionReporter(win, tmp_path / "wsp-studio.log", lines.append)
    reporter.install()
    try:
        def broken():
            return {}["missing"]

        for _ in range(3):
            try:
                broken()
            except KeyError as e:
                reporter.excepthook(type(e), e, e.__traceback__)
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        QApplication.processEvents()
    finally:
        reporter.uninstall()
    assert reporter.count == 4
    logged = [r for r in caplog.records if r.name == "wsp_app.crash"]
    assert len(logged) == 4 and all(r.exc_info for r in logged)
    assert len(errors) == 2  # one KeyError, one ZeroDivisionError
    assert "KeyError: 'missing'" in errors[0] and str(tmp_path / "wsp-studio.log") in errors[0]
    assert "ZeroDivisionError" in errors[1]
    assert len(lines) == 4 and lines[-1].startswith("unexpected error: ZeroDivisionError")
