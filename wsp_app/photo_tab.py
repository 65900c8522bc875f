"""The Photo tab: your own image → boxes (drawn with the mouse, or from a COCO-style file) →
3D skeletons. The prediction is ``wsp-core predict`` itself, run in its own process (off the GUI
thread); the export is its JSON (root-relative mm per person)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGraphicsScene, QGraphicsView,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from wsp_core.skeleton import H36M, bones

from .process import JobRunner, run_core
from .scene import SceneModel, person_colour, predicted_skeletons
from .viewer3d import SkeletonView
from .widgets import checkpoint_row, say

MIN_BOX_PX = 8.0


def _qcolour(k: int) -> QColor:
    r, g, b = person_colour(k)
    return QColor.fromRgbF(r, g, b)


class PhotoCanvas(QGraphicsView):
    """The photo; drag with the left button to draw a person box."""

    boxes_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.boxes: list[list[float]] = []
        self.persons: list[dict[str, Any]] = []
        self.pixmap: QPixmap | None = None
        self._start: QPointF | None = None
        self._rubber = None

    def set_image(self, pixmap: QPixmap) -> None:
        self.pixmap = pixmap
        self.boxes, self.persons = [], []
        self.redraw()

    def set_boxes(self, boxes: list[list[float]]) -> None:
        self.boxes = [list(map(float, b)) for b in boxes]
        self.persons = []
        self.redraw()
        self.boxes_changed.emit()

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

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.pixmap is not None and event.button() == Qt.MouseButton.LeftButton:
            self._start = self.mapToScene(event.position().toPoint())
            pen = QPen(QColor("white"), 1, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._rubber = self.scene().addRect(QRectF(self._start, self._start), pen)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._start is not None and self._rubber is not None:
            end = self.mapToScene(event.position().toPoint())
            self._rubber.setRect(QRectF(self._start, end).normalized())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._start is not None and event.button() == Qt.MouseButton.LeftButton:
            end = self.mapToScene(event.position().toPoint())
            rect = QRectF(self._start, end).normalized() & self.scene().sceneRect()
            self._start = None
            if rect.width() >= MIN_BOX_PX and rect.height() >= MIN_BOX_PX:
                self.boxes.append([round(rect.x(), 1), round(rect.y(), 1),
                                   round(rect.width(), 1), round(rect.height(), 1)])
                self.persons = []
                self.boxes_changed.emit()
            self.redraw()
        super().mouseReleaseEvent(event)


class PhotoTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_path: Path | None = None
        self.result: dict[str, Any] | None = None
        self.call: JobRunner | None = None
        self.canvas = PhotoCanvas()
        self.canvas.boxes_changed.connect(self._on_boxes)
        self.model = SceneModel()
        self.viewer = SkeletonView(self.model)
        self.ckpt = QLineEdit()
        self.ckpt.setPlaceholderText("a fine-tuned (3D) checkpoint, e.g. runs/ft1/last.pt")
        open_button = QPushButton("Open image…")
        open_button.clicked.connect(self._ask_image)
        boxes_button = QPushButton("Boxes from COCO JSON…")
        boxes_button.clicked.connect(self._ask_boxes)
        clear_button = QPushButton("Clear boxes")
        clear_button.clicked.connect(lambda: self.canvas.set_boxes([]))
        self.predict_button = QPushButton("Predict")
        self.predict_button.clicked.connect(self.predict)
        self.export_button = QPushButton("Export JSON…")
        self.export_button.clicked.connect(self._ask_export)
        self.export_button.setEnabled(False)
        self.message = QLabel("Open a JPEG or PNG, drag boxes around people (or load them), "
                              "choose a checkpoint, predict.")
        self.message.setWordWrap(True)
        bar = QHBoxLayout()
        for button in (open_button, boxes_button, clear_button, self.predict_button,
                       self.export_button):
            bar.addWidget(button)
        form = QFormLayout()
        form.addRow("Checkpoint", checkpoint_row(self.ckpt, self))
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

    def _say(self, text: str, error: bool = False) -> None:
        say(self.message, text, error)

    def open_image(self, path: str | Path) -> bool:
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            self._say(f"{path}: cannot read the image (JPEG or PNG expected)", error=True)
            return False
        self.image_path = Path(path)
        self._clear_prediction()
        self.canvas.set_image(pixmap)
        self._say(f"{self.image_path.name}: {pixmap.width()} × {pixmap.height()} px; drag boxes "
                  "around people")
        return True

    def load_boxes(self, ann: str | Path) -> bool:
        from wsp_core.errors import WspError
        from wsp_core.formats.coco import person_boxes

        if self.image_path is None:
            self._say("open an image first", error=True)
            return False
        try:
            boxes = person_boxes(Path(ann), self.image_path.name)
        except WspError as e:
            self._say(str(e), error=True)
            return False
        self.canvas.set_boxes(boxes)
        self._say(f"{len(boxes)} person boxes from {Path(ann).name}")
        return True

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

    def busy(self) -> bool:
        return self.call is not None and self.call.running()

    def predict(self) -> bool:
        from wsp_core.launch import predict_command

        ckpt = self.ckpt.text().strip()
        if self.image_path is None or not ckpt:
            self._say("open an image and choose a checkpoint first", error=True)
            return False
        if not self.canvas.boxes:
            self._say("no box: the whole image is taken as one person")
        image, boxes = self.image_path, [list(b) for b in self.canvas.boxes]
        self.predict_button.setEnabled(False)
        self._say("predicting…")
        self.call = run_core(self, "predict", predict_command(ckpt, image, boxes), self._show,
                             self._failed)
        return True

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
        photo or the checkpoint); False, with the reason shown, when it cannot."""
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

    def _ask_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", "",
                                              "Images (*.jpg *.jpeg *.png)")
        if path:
            self.open_image(path)

    def _ask_boxes(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Person boxes from a COCO-style file", "",
                                              "JSON (*.json)")
        if path:
            self.load_boxes(path)

    def _ask_export(self) -> None:
        if self.result is None:
            return
        default = self.image_path.with_suffix(".3d.json").name if self.image_path else "pose.json"
        path, _ = QFileDialog.getSaveFileName(self, "Export the 3D poses", default,
                                              "JSON (*.json)")
        if path:
            self.export(path)
