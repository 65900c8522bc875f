"""The vispy skeleton viewer: a SceneCanvas with a turntable camera, a ground grid, axes, and
one line set plus one marker set per skeleton of the scene model. It subscribes to the model
(scene.py) and redraws when the model says so; it never holds state of its own beyond visuals."""

from __future__ import annotations

from html import escape

import numpy as np
import vispy

vispy.use("pyside6")

from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel,  # noqa: E402
                               QPushButton, QVBoxLayout, QWidget)
from vispy import scene as vscene  # noqa: E402

from .scene import SceneModel  # noqa: E402

BACKGROUND = "#1e1e22"
JOINT_SIZE = 11


def _css(colour: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{int(round(255 * c)):02x}" for c in colour)


class SkeletonView(QWidget):
    """The canvas and its controls: reset view, colour by error, save PNG, the picked joint."""

    def __init__(self, model: SceneModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.canvas = vscene.SceneCanvas(keys=None, bgcolor=BACKGROUND, size=(640, 480),
                                         show=False)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = vscene.TurntableCamera(up="+z", fov=40)
        self._grid = vscene.visuals.Line(parent=self.view.scene, connect="segments",
                                         color=(0.45, 0.45, 0.5, 1.0))
        self._axes = vscene.visuals.XYZAxis(parent=self.view.scene, width=2)
        self._visuals: list[tuple[vscene.visuals.Line, vscene.visuals.Markers]] = []
        self.info = QLabel(model.describe())
        self.legend = QLabel("")
        self.legend.setObjectName("legend")
        self.legend.setWordWrap(True)
        # on the canvas's colour, so the white of the truth shows as it does in the scene
        self.legend.setStyleSheet(f"background: {BACKGROUND}; color: #dddddd; padding: 3px;")
        self.by_error = QCheckBox("colour joints by error")
        self.by_error.toggled.connect(model.set_colour_by_error)
        reset = QPushButton("Reset view")
        reset.clicked.connect(self.reset_view)
        save = QPushButton("Save PNG…")
        save.clicked.connect(self._ask_save)
        bar = QHBoxLayout()
        for widget in (reset, save, self.by_error):
            bar.addWidget(widget)
        bar.addWidget(self.info, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas.native, 1)
        layout.addWidget(self.legend)
        layout.addLayout(bar)
        self.canvas.events.mouse_press.connect(self._on_press)
        model.subscribe(self._on_model)
        self._rebuild()
        self.reset_view()

    # -- the model's events --------------------------------------------------------------------
    def _on_model(self, what: str) -> None:
        if what == "skeletons":
            self._rebuild()
            self.reset_view()
        elif what == "colours":
            self._recolour()
        elif what == "picked":
            self.info.setText(self.model.describe())

    def _rebuild(self) -> None:
        for line, markers in self._visuals:
            line.parent = None
            markers.parent = None
        self._visuals = []
        for k, sk in enumerate(self.model.skeletons):
            pts = sk.points().astype(np.float32)
            segments = np.array([pts[i] for bone in sk.bones for i in bone], np.float32) \
                .reshape(-1, 3) if sk.bones else np.zeros((0, 3), np.float32)
            line = vscene.visuals.Line(pos=segments if len(segments) else None,
                                       connect="segments", color=(*sk.colour, 1.0), width=3,
                                       parent=self.view.scene)
            markers = vscene.visuals.Markers(parent=self.view.scene)
            markers.set_gl_state("translucent", depth_test=False)
            self._visuals.append((line, markers))
        self._recolour()
        self._draw_grid()
        self.info.setText(self.model.describe())
        self._show_legend()

    def _show_legend(self) -> None:
        """Which colour is which skeleton, and any warning; colouring by error only where the
        truth is known."""
        entries = [f'<span style="color: {_css(colour)}">■</span> {escape(label)}'
                   for label, colour in self.model.legend()]
        warnings = [f'<span style="color: #e05050">⚠ {escape(w)}</span>'
                    for w in self.model.warnings()]
        self.legend.setText("&nbsp;&nbsp; ".join(entries) + ("<br>" if warnings else "")
                            + "<br>".join(warnings))
        self.by_error.setVisible(self.model.has_truth)  # absent where no truth is known
        if not self.model.has_truth:
            self.by_error.setChecked(False)

    def _recolour(self) -> None:
        for k, (_line, markers) in enumerate(self._visuals):
            sk = self.model.skeletons[k]
            markers.set_data(sk.points().astype(np.float32), size=JOINT_SIZE, edge_width=0,
                             face_color=self.model.joint_colours(k))
        self.canvas.update()

    def _draw_grid(self, half: float = 2.0, step: float = 0.25) -> None:
        z = self.model.ground_z()
        ticks = np.arange(-half, half + 1e-9, step)
        segs = []
        for t in ticks:
            segs += [(t, -half, z), (t, half, z), (-half, t, z), (half, t, z)]
        self._grid.set_data(pos=np.array(segs, np.float32))
        self._axes.transform = vscene.transforms.STTransform(scale=(0.5, 0.5, 0.5),
                                                              translate=(-half, -half, z))

    # -- view ----------------------------------------------------------------------------------
    def reset_view(self) -> None:
        camera = self.view.camera
        camera.elevation, camera.azimuth = 15.0, -30.0
        pts = [sk.points() for sk in self.model.skeletons]
        centre = np.concatenate(pts).mean(0) if pts else np.zeros(3)
        extent = float(np.ptp(np.concatenate(pts), axis=0).max()) if pts else 2.0
        camera.center = tuple(centre)
        camera.distance = max(2.5, 2.6 * extent)
        self.canvas.update()

    def joint_pixels(self, k: int) -> np.ndarray:
        """Canvas pixel positions (J, 2) of skeleton k's joints, as the view projects them."""
        _line, markers = self._visuals[k]
        pts = self.model.skeletons[k].points()
        mapped = markers.get_transform("visual", "canvas").map(pts)
        return mapped[:, :2] / mapped[:, 3:4]

    def render(self) -> np.ndarray:
        """The scene as the canvas draws it: RGBA (H, W, 4) uint8."""
        return self.canvas.render(alpha=False)

    def save_png(self, path: str) -> None:
        from PIL import Image

        from wsp_core.atomic import atomic_write

        image = Image.fromarray(self.render())
        with atomic_write(path, "wb") as f:
            image.save(f, format="PNG")

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the 3D view", "skeletons.png",
                                              "PNG images (*.png)")
        if path:
            self.save_png(path)

    def _on_press(self, event) -> None:
        screen = [self.joint_pixels(k) for k in range(len(self._visuals))]
        self.model.pick(screen, (float(event.pos[0]), float(event.pos[1])))
