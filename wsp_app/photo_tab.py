"""The Photo tab: your own image, folder of images or video → person boxes (proposed by a
detector, drawn with the mouse, or read from a COCO-style file) → 3D skeletons.

With an ``.onnx`` model (``wsp-core export-onnx``) the prediction runs in this process with ONNX
Runtime (on a worker thread: no torch in the GUI); with a checkpoint it is ``wsp-core predict``
in its own process. Detection (OpenCV's HOG people detector, or an ONNX detector) runs on the
worker thread too. A folder or video is stepped through frame by frame; "each frame" detects and
predicts on every frame shown. The export is the prediction's JSON (as ``wsp-core predict``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGraphicsScene,
                               QGraphicsView, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from wsp_core.skeleton import H36M, bones

from .background import Background
from .process import JobRunner, run_core
from .scene import SceneModel, person_colour, predicted_skeletons
from .viewer3d import SkeletonView
from .widgets import path_row, say

MIN_BOX_PX = 8.0
PROPOSAL_COLOUR = QColor(255, 230, 90)


def _qcolour(k: int) -> QColor:
    r, g, b = person_colour(k)
    return QColor.fromRgbF(r, g, b)


def to_pixmap(image: np.ndarray) -> QPixmap:
    """A BGR image (OpenCV's) as a pixmap: what is shown is what is predicted on."""
    import cv2  # OpenCV and the prediction pipeline load when the tab is first used

    rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


class PhotoCanvas(QGraphicsView):
    """The photo. Drag with the left button to draw a person box, or drag a box's edge or
    corner to move it; a click on a proposed (dashed, yellow) box accepts it; a right click
    removes the box or proposal under it. No mouse tracking and no tab-wide key shortcuts here:
    with them the Pairs tab's repaints were ~15 % slower (docs/BENCHMARKS.md)."""

    #: A press this close to a box's edge (screen pixels) grabs the edge (two: a corner).
    GRAB_PX = 6.0

    boxes_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.boxes: list[list[float]] = []
        self.proposals: list[tuple[list[float], float]] = []     # (box, score)
        self.persons: list[dict[str, Any]] = []
        self.pixmap: QPixmap | None = None
        self._start: QPointF | None = None
        self._rubber = None
        self._grab: tuple[int, str] | None = None     # (box, edges among "lrtb") being dragged

    def set_image(self, pixmap: QPixmap) -> None:
        self.pixmap = pixmap
        self.boxes, self.proposals, self.persons = [], [], []
        self.redraw()

    def set_boxes(self, boxes: list[list[float]]) -> None:
        self.boxes = [list(map(float, b)) for b in boxes]
        self.persons = []
        self.redraw()
        self.boxes_changed.emit()

    def set_proposals(self, proposals: list[tuple[list[float], float]]) -> None:
        self.proposals = [(list(map(float, b)), float(s)) for b, s in proposals]
        self.redraw()

    def accept_proposal(self, k: int) -> None:
        box, _ = self.proposals.pop(k)
        self.boxes.append(box)
        self.persons = []
        self.redraw()
        self.boxes_changed.emit()

    def accept_all(self) -> int:
        count = len(self.proposals)
        self.boxes += [b for b, _ in self.proposals]
        self.proposals = []
        self.persons = []
        self.redraw()
        self.boxes_changed.emit()
        return count

    def set_persons(self, persons: list[dict[str, Any]]) -> None:
        self.persons = persons
        self.redraw()

    def redraw(self) -> None:
        scene = self.scene()
        scene.clear()
        self._rubber = None
        if self.pixmap is None:
            return
        scene.addPixmap(self.pixmap)
        scene.setSceneRect(QRectF(self.pixmap.rect()))
        for (x, y, w, h), score in self.proposals:
            pen = QPen(PROPOSAL_COLOUR, 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            scene.addRect(QRectF(x, y, w, h), pen)
            tag = scene.addSimpleText(f"{score:.2f}")
            tag.setBrush(PROPOSAL_COLOUR)
            tag.setPos(x + 3, y + h - 16)
        for k, (x, y, w, h) in enumerate(self.boxes):
            pen = QPen(_qcolour(k), 2)
            pen.setCosmetic(True)
            scene.addRect(QRectF(x, y, w, h), pen)
            tag = scene.addSimpleText(str(k + 1))
            tag.setBrush(_qcolour(k))
            tag.setPos(x + 3, y + 2)
        limbs = bones(H36M)
        for k, person in enumerate(self.persons):
            pts = person["joints_px"]
            pen = QPen(_qcolour(k), 2.5)
            pen.setCosmetic(True)
            for i, j in limbs:
                scene.addLine(pts[i][0], pts[i][1], pts[j][0], pts[j][1], pen)
            for px, py in pts:
                scene.addEllipse(px - 2.5, py - 2.5, 5, 5, QPen(Qt.PenStyle.NoPen),
                                 QBrush(_qcolour(k)))
        self.fitInView(scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.pixmap is not None:
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    @staticmethod
    def _under(point: QPointF, boxes: list[list[float]]) -> int | None:
        """The last (topmost) of ``boxes`` that holds the point."""
        for k in range(len(boxes) - 1, -1, -1):
            x, y, w, h = boxes[k]
            if x <= point.x() <= x + w and y <= point.y() <= y + h:
                return k
        return None

    def remove_at(self, point: QPointF) -> bool:
        """Remove the box, else the proposal, under ``point``."""
        k = self._under(point, self.boxes)
        if k is not None:
            self.boxes.pop(k)
            self.persons = []
            self.redraw()
            self.boxes_changed.emit()
            return True
        k = self._under(point, [b for b, _ in self.proposals])
        if k is not None:
            self.proposals.pop(k)
            self.redraw()
            return True
        return False

    def edge_at(self, point: QPointF) -> tuple[int, str] | None:
        """(box, edges among "lrtb") of the topmost box whose edge or corner is at the scene
        point, within GRAB_PX on the screen."""
        tol = self.GRAB_PX / max(self.transform().m11(), 1e-6)
        px, py = point.x(), point.y()
        for k in range(len(self.boxes) - 1, -1, -1):
            x, y, w, h = self.boxes[k]
            along_y, along_x = y - tol <= py <= y + h + tol, x - tol <= px <= x + w + tol
            edges = ("l" if along_y and abs(px - x) <= tol else
                     "r" if along_y and abs(px - x - w) <= tol else "") + \
                    ("t" if along_x and abs(py - y) <= tol else
                     "b" if along_x and abs(py - y - h) <= tol else "")
            if edges:
                return k, edges
        return None

    def _drag_edge(self, point: QPointF) -> None:
        k, edges = self._grab
        x0, y0, w, h = self.boxes[k]
        x1, y1 = x0 + w, y0 + h
        x0, x1 = (point.x(), x1) if "l" in edges else (x0, point.x()) if "r" in edges else (x0, x1)
        y0, y1 = (point.y(), y1) if "t" in edges else (y0, point.y()) if "b" in edges else (y0, y1)
        rect = QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized() & self.scene().sceneRect()
        self.boxes[k] = [round(rect.x(), 1), round(rect.y(), 1), round(rect.width(), 1),
                         round(rect.height(), 1)]
        self.redraw()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.pixmap is not None and event.button() == Qt.MouseButton.RightButton:
            self.remove_at(self.mapToScene(event.position().toPoint()))
            return
        point = self.mapToScene(event.position().toPoint())
        if self.pixmap is not None and event.button() == Qt.MouseButton.LeftButton \
                and self.edge_at(point) is not None:
            self._grab = self.edge_at(point)
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            return
        if self.pixmap is not None and event.button() == Qt.MouseButton.LeftButton:
            self._start = self.mapToScene(event.position().toPoint())
            pen = QPen(QColor("white"), 1, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._rubber = self.scene().addRect(QRectF(self._start, self._start), pen)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        point = self.mapToScene(event.position().toPoint())
        if self._grab is not None:
            self._drag_edge(point)
            return
        if self._start is not None and self._rubber is not None:
            end = self.mapToScene(event.position().toPoint())
            self._rubber.setRect(QRectF(self._start, end).normalized())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._grab is not None and event.button() == Qt.MouseButton.LeftButton:
            k, _ = self._grab
            self._grab = None
            self.viewport().unsetCursor()
            if min(self.boxes[k][2:]) < MIN_BOX_PX:     # dragged to nothing: the box goes
                self.boxes.pop(k)
            self.persons = []
            self.redraw()
            self.boxes_changed.emit()
            return
        if self._start is not None and event.button() == Qt.MouseButton.LeftButton:
            end = self.mapToScene(event.position().toPoint())
            rect = QRectF(self._start, end).normalized() & self.scene().sceneRect()
            self._start = None
            if rect.width() >= MIN_BOX_PX and rect.height() >= MIN_BOX_PX:
                self.boxes.append([round(rect.x(), 1), round(rect.y(), 1),
                                   round(rect.width(), 1), round(rect.height(), 1)])
                self.persons = []
                self.boxes_changed.emit()
            else:                                   # a click: accept the proposal under it
                k = self._under(end, [b for b, _ in self.proposals])
                if k is not None:
                    self.accept_proposal(k)
                    return
            self.redraw()
        super().mouseReleaseEvent(event)


class Frames:
    """What the tab steps through: one image, a folder's images, or a video's frames."""

    def __init__(self, path: Path) -> None:
        from wsp_core.infer.frames import folder_images, frame_count, kind_of

        self.path, self.kind = Path(path), kind_of(path)
        self.files = folder_images(path) if self.kind == "folder" else \
            [self.path] if self.kind == "image" else []
        self.count = len(self.files) if self.kind != "video" else (frame_count(path) or 0)

    def name(self, k: int) -> str:
        return self.files[k].name if self.kind != "video" else f"{self.path.name}#{k}"

    def file(self, k: int) -> Path | None:
        """The image file of frame ``k`` (None for a video frame)."""
        return self.files[k] if self.kind != "video" else None

    def read(self, k: int) -> np.ndarray:
        from wsp_core.infer.frames import read_image, video_frame

        return read_image(self.files[k]) if self.kind != "video" else video_frame(self.path, k)


class PhotoTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: Frames | None = None
        self.index = 0
        self.image: np.ndarray | None = None
        self.image_path: Path | None = None      # the frame's file (None for a video frame)
        self.result: dict[str, Any] | None = None
        self.call: JobRunner | None = None
        self.background = Background(self)
        self._cache: dict[str, Any] = {}         # loaded detectors and ONNX networks by path
        self._temp = tempfile.TemporaryDirectory(prefix="wsp-photo-")
        self.canvas = PhotoCanvas()
        self.canvas.boxes_changed.connect(self._on_boxes)
        self.model = SceneModel()
        self.viewer = SkeletonView(self.model)
        self.ckpt = QLineEdit()
        self.ckpt.setPlaceholderText("a fine-tuned (3D) checkpoint (.pt), or its ONNX export "
                                     "(.onnx: predicted in this process)")
        self.detector = QLineEdit()
        self.detector.setPlaceholderText("OpenCV's HOG people detector (built in, weak); or an "
                                         "ONNX person detector (.onnx)")
        self.each_frame = QCheckBox("on each frame shown: detect and predict")
        buttons = []

        def button(text: str, slot, tip: str = "") -> QPushButton:
            b = QPushButton(text)
            b.clicked.connect(slot)
            b.setToolTip(tip)
            buttons.append(b)
            return b

        button("Open image…", self._ask_image)
        button("Open folder…", self._ask_folder)
        button("Open video…", self._ask_video)
        self.prev_button = button("◀", lambda: self.step(-1), "previous frame")
        self.frame_label = QLabel("")
        buttons.append(self.frame_label)
        self.next_button = button("▶", lambda: self.step(1), "next frame")
        self.detect_button = button("Detect people", self.detect,
                                    "propose person boxes: click one to accept it, right-click "
                                    "to drop it")
        self.accept_button = button("Accept all", self.accept_all)
        button("Boxes from COCO JSON…", self._ask_boxes)
        button("Clear boxes", lambda: self.canvas.set_boxes([]))
        self.predict_button = button("Predict", self.predict)
        self.export_button = button("Export JSON…", self._ask_export)
        self.export_button.setEnabled(False)
        self.message = QLabel("Open a photo, a folder or a video; detect people (or drag boxes "
                              "around them, or load them); choose a model; predict.")
        self.message.setWordWrap(True)
        bar = QHBoxLayout()
        for b in buttons:
            bar.addWidget(b)
        form = QFormLayout()
        form.addRow("Model", path_row(self.ckpt, self, title="A 3D model",
                                      pattern="Models (*.pt *.onnx)"))
        form.addRow("Detector", path_row(self.detector, self, title="An ONNX person detector",
                                         pattern="ONNX (*.onnx)"))
        form.addRow("", self.each_frame)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(self.viewer)
        splitter.setChildrenCollapsible(False)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 700])
        self.canvas.setMinimumWidth(320)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self._update_stepper()

    def _say(self, text: str, error: bool = False) -> None:
        say(self.message, text, error)

    # -- what is shown ---------------------------------------------------------------------

    def open_image(self, path: str | Path) -> bool:
        return self.open_frames(path)

    def open_frames(self, path: str | Path) -> bool:
        """Open an image, a folder of images or a video, at its first frame."""
        from wsp_core.errors import WspError

        try:
            frames = Frames(Path(path))
            if frames.count == 0:
                self._say(f"{path}: no image or frame to show", error=True)
                return False
        except WspError as e:
            self._say(str(e), error=True)
            return False
        self.frames = frames
        return self.show_frame(0)

    def show_frame(self, k: int) -> bool:
        from wsp_core.errors import WspError

        try:
            image = self.frames.read(k)
        except WspError as e:
            self._say(str(e), error=True)
            return False
        self.index, self.image = k, image
        self.image_path = self.frames.file(k)
        self._clear_prediction()
        self.canvas.set_image(to_pixmap(image))
        self._update_stepper()
        h, w = image.shape[:2]
        self._say(f"{self.frames.name(k)}: {w} × {h} px; detect people or drag boxes around them")
        if self.each_frame.isChecked():
            self.detect(then_predict=True)
        return True

    def step(self, delta: int) -> bool:
        if self.frames is None or not 0 <= self.index + delta < self.frames.count:
            return False
        return self.show_frame(self.index + delta)

    def _update_stepper(self) -> None:
        many = self.frames is not None and self.frames.count > 1
        self.prev_button.setEnabled(many and self.index > 0)
        self.next_button.setEnabled(many and self.index < self.frames.count - 1)
        self.frame_label.setText(f"{self.index + 1} / {self.frames.count}" if many else "")

    # -- boxes -----------------------------------------------------------------------------

    def load_boxes(self, ann: str | Path) -> bool:
        from wsp_core.errors import WspError
        from wsp_core.formats.coco import person_boxes

        if self.image is None:
            self._say("open an image first", error=True)
            return False
        try:
            boxes = person_boxes(Path(ann), self.frames.name(self.index))
        except WspError as e:
            self._say(str(e), error=True)
            return False
        self.canvas.set_boxes(boxes)
        self._say(f"{len(boxes)} person boxes from {Path(ann).name}")
        return True

    def _loaded(self, key: str, make):
        """A detector or network made once per path (in the worker thread)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def detect(self, then_predict: bool = False) -> bool:
        """Propose person boxes (worker thread); ``then_predict``: accept them all and predict."""
        from wsp_core.infer.detect import make_detector

        if self.image is None:
            self._say("open an image first", error=True)
            return False
        path = self.detector.text().strip()
        image = self.image
        self.detect_button.setEnabled(False)
        self._say("detecting…")

        def work():
            detector = self._loaded(f"detector:{path}",
                                    lambda: make_detector(Path(path) if path else None))
            return detector.name, detector(image)

        def done(found) -> None:
            name, detections = found
            self.detect_button.setEnabled(True)
            if self.image is not image:                 # another frame is shown by now
                return
            self.canvas.set_proposals([(list(d.box), d.score) for d in detections])
            self._say(f"{len(detections)} persons proposed by {name}: click a box to accept it, "
                      "right-click to drop it, or Accept all")
            if then_predict:
                self.accept_all()
                if self.canvas.boxes and self.ckpt.text().strip():
                    self.predict()

        def failed(text: str) -> None:
            self.detect_button.setEnabled(True)
            self._say(text, error=True)

        self.background.run(work, done, failed, channel="detect")
        return True

    def accept_all(self) -> None:
        count = self.canvas.accept_all()
        self._say(f"{count} proposed boxes accepted; {len(self.canvas.boxes)} boxes")

    def _on_boxes(self) -> None:
        """Boxes changed: the prediction was for the old ones, and goes."""
        self._clear_prediction()
        self._say(f"{len(self.canvas.boxes)} boxes")

    def _clear_prediction(self) -> None:
        """No prediction on show: no result to export, no skeletons on the photo or in 3D."""
        self.result = None
        self.export_button.setEnabled(False)
        if self.canvas.persons:
            self.canvas.set_persons([])
        self.model.set_skeletons([])

    # -- prediction ------------------------------------------------------------------------

    def busy(self) -> bool:
        return (self.call is not None and self.call.running()) or self.background.busy()

    def predict(self) -> bool:
        model = self.ckpt.text().strip()
        if self.image is None or not model:
            self._say("open an image and choose a model first", error=True)
            return False
        if not self.canvas.boxes:
            self._say("no box: the whole image is taken as one person")
        boxes = [list(b) for b in self.canvas.boxes]
        self.predict_button.setEnabled(False)
        self._say("predicting…")
        if model.lower().endswith(".onnx"):
            self._predict_here(Path(model), boxes)
        else:
            from wsp_core.launch import predict_command

            self.call = run_core(self, "predict", predict_command(model, self._frame_file(), boxes),
                                 self._show, self._failed)
        return True

    def _frame_file(self) -> Path:
        """The shown frame as a file for ``wsp-core predict``: its own, or for a video frame a
        PNG written now (only this path needs one)."""
        if self.image_path is not None:
            return self.image_path
        import cv2

        path = Path(self._temp.name) / f"frame-{self.index:06d}.png"
        cv2.imwrite(str(path), self.image)
        return path

    def _predict_here(self, model: Path, boxes: list[list[float]]) -> None:
        """ONNX Runtime in this process, on the worker thread."""
        from wsp_core.infer.boxes import BoxSource, GivenBoxes
        from wsp_core.infer.camera import photo_focal
        from wsp_core.infer.frames import Frame
        from wsp_core.infer.onnx_runtime import OnnxPoseNetwork
        from wsp_core.infer.pose import frame_result

        index, image = self.index, self.image
        file, name = self.frames.file(index), self.frames.name(index)
        source = GivenBoxes(boxes) if boxes else BoxSource()

        def work():
            network = self._loaded(f"onnx:{model}", lambda: OnnxPoseNetwork(model))
            h, w = image.shape[:2]
            focal = photo_focal(file, w, h)
            persons = source.persons(Frame(name, index, image, file))
            return frame_result(name, image, persons, network, focal, source.describe)

        def done(result: dict[str, Any]) -> None:
            if self.image is image:                     # still the frame it was asked for
                self._show(result)
            else:
                self.predict_button.setEnabled(True)

        self.background.run(work, done, self._failed, channel="predict")

    def _show(self, result: dict[str, Any]) -> None:
        self.predict_button.setEnabled(True)
        self.result = result
        if not self.canvas.boxes:
            self.canvas.boxes = [p["box"] for p in result["persons"]]
        self.canvas.set_persons(result["persons"])
        self.model.set_skeletons(predicted_skeletons(result, bones(H36M)))
        self.export_button.setEnabled(True)
        self._say(f"{len(result['persons'])} persons predicted: root-relative 3D joints (mm), "
                  f"coloured as their boxes")

    def _failed(self, text: str) -> None:
        """A failed prediction leaves nothing of the previous one on show (it was not for this
        checkpoint, or these boxes), and nothing to export."""
        self.predict_button.setEnabled(True)
        self._clear_prediction()
        self._say(text, error=True)

    def export(self, path: str | Path) -> bool:
        """Write the prediction as ``wsp-core predict --out`` does (atomically, never over the
        photo or the model); False, with the reason shown, when it cannot."""
        from wsp_core.atomic import atomic_write, check_target
        from wsp_core.errors import InputError

        try:
            check_target(path, "pose.json", [self.image_path, self.ckpt.text().strip() or None])
            with atomic_write(path) as f:
                f.write(json.dumps(self.result, indent=1))
        except InputError as e:
            self._say(str(e), error=True)
            return False
        self._say(f"wrote {path}")
        return True

    # -- dialogs ---------------------------------------------------------------------------

    def _ask_image(self) -> None:
        from wsp_core.infer.frames import IMAGE_SUFFIXES

        pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", "", f"Images ({pattern})")
        if path:
            self.open_frames(path)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of photos")
        if path:
            self.open_frames(path)

    def _ask_video(self) -> None:
        from wsp_core.infer.frames import VIDEO_SUFFIXES

        pattern = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", "", f"Videos ({pattern})")
        if path:
            self.open_frames(path)

    def _ask_boxes(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Person boxes from a COCO-style file", "",
                                              "JSON (*.json)")
        if path:
            self.load_boxes(path)

    def _ask_export(self) -> None:
        if self.result is None:
            return
        name = Path(self.frames.name(self.index)).stem if self.frames else "pose"
        path, _ = QFileDialog.getSaveFileName(self, "Export the 3D poses", f"{name}.3d.json",
                                              "JSON (*.json)")
        if path:
            self.export(path)
