"""The 3D tab: evaluation samples (worst first) and the current pair's two persons, as 3D
skeletons in the vispy viewer. Inference runs in a ``wsp-core`` process (eval-3d --samples,
predict), never in the GUI's."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFormLayout,
                               QLabel, QLineEdit, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from wsp_core.launch import PROTOCOLS, predict_command, samples_command
from wsp_core.skeleton import H36M, JOINT_SETS, bones

from .process import JobRunner, run_core
from .scene import SceneModel, predicted_skeletons, sample_skeletons
from .viewer3d import SkeletonView
from .widgets import checkpoint_row, readonly_table, say

SAMPLE_COLUMNS = ("rank", "MPJPE mm", "action", "image")


class View3DTab(QWidget):
    def __init__(self, current_pair=None, parent: QWidget | None = None) -> None:
        """``current_pair()`` gives the Pairs tab's pair detail (or None)."""
        super().__init__(parent)
        self.current_pair = current_pair or (lambda: None)
        self.model = SceneModel()
        self.viewer = SkeletonView(self.model)
        self.call: JobRunner | None = None  # the wsp-core process of the last request
        self.samples: dict[str, Any] | None = None
        self._samples_dir = tempfile.TemporaryDirectory(prefix="wsp-3d-")
        self.ckpt = QLineEdit()
        self.ckpt.setPlaceholderText("a fine-tuned (3D) checkpoint, e.g. runs/ft1/last.pt")
        self.data = QLineEdit()
        self.data.setPlaceholderText("FORMAT:PATH, e.g. synth:demo-out/world")
        self.protocol = QComboBox()
        self.protocol.addItems(list(PROTOCOLS))
        self.protocol.setCurrentText("all")
        self.evaluate_button = QPushButton("Evaluate: worst samples first")
        self.evaluate_button.clicked.connect(self.evaluate)
        self.pair_button = QPushButton("Show the current pair's persons")
        self.pair_button.clicked.connect(self.show_pair)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.table = readonly_table(QTableWidget(), SAMPLE_COLUMNS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._on_sample_selected)
        left = QWidget()
        column = QVBoxLayout(left)
        form = QFormLayout()
        form.addRow("Checkpoint", checkpoint_row(self.ckpt, self))
        form.addRow("3D data", self.data)
        form.addRow("Protocol", self.protocol)
        column.addLayout(form)
        column.addWidget(self.evaluate_button)
        column.addWidget(self.pair_button)
        column.addWidget(self.message)
        column.addWidget(self.table, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.viewer)
        splitter.setSizes([420, 980])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _say(self, text: str, error: bool = False) -> None:
        say(self.message, text, error)

    def _checkpoint(self) -> str | None:
        path = self.ckpt.text().strip()
        if not path:
            self._say("choose a 3D checkpoint first", error=True)
            return None
        return path

    # -- evaluation samples ----------------------------------------------------------------------
    def busy(self) -> bool:
        return self.call is not None and self.call.running()

    def evaluate(self) -> None:
        ckpt, data = self._checkpoint(), self.data.text().strip()
        if ckpt is None:
            return
        if not data:
            self._say("give the 3D data as FORMAT:PATH", error=True)
            return
        protocol = self.protocol.currentText()
        self._say(f"evaluating {ckpt} on {data} ({protocol})…")
        self.evaluate_button.setEnabled(False)
        out = Path(self._samples_dir.name) / "samples.npz"
        self.call = run_core(self, "eval-3d", samples_command(ckpt, data, protocol, out),
                             self._show_samples, self._failed)

    def _show_samples(self, result: dict[str, Any]) -> None:
        from wsp_core.errors import WspError
        from wsp_core.evaluate.pose3d import read_samples

        self.evaluate_button.setEnabled(True)
        try:
            samples = read_samples(Path(result["samples_file"]))
        except WspError as e:
            self._failed(str(e))
            return
        self.samples = samples
        n = len(samples["mpjpe"])
        self.table.setRowCount(n)
        for r in range(n):
            image = str(samples["image"][r])
            values = (str(r + 1), f"{samples['mpjpe'][r]:.1f}", str(samples["action"][r]),
                      "/".join(Path(image).parts[-2:]))
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(image)
                self.table.setItem(r, c, item)
        self._say(f"{n} samples, mean MPJPE {np.mean(samples['mpjpe']):.1f} mm; the worst "
                  "first. Click a joint to read its error.")
        if n:
            self.table.selectRow(0)

    def _on_sample_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self.samples is not None:
            self.show_sample(rows[0].row())

    def show_sample(self, k: int) -> None:
        s = self.samples
        names = tuple(s["joints"])   # Human3.6M's, or MuPoTS's on a multi-person set
        joint_set = next((j for j in JOINT_SETS.values() if j.joints == names), H36M)
        skeletons = sample_skeletons(s["pred"][k], s["gt"][k], bones(joint_set), names,
                                     f"sample {k + 1} prediction")
        self.model.set_skeletons(skeletons)
        self.viewer.by_error.setChecked(True)

    # -- the current pair ------------------------------------------------------------------------
    def show_pair(self) -> None:
        detail = self.current_pair()
        ckpt = self._checkpoint()
        if ckpt is None:
            return
        if detail is None:
            self._say("no pair is selected in the Pairs tab", error=True)
            return
        boxes = [list(detail.a.bbox), list(detail.b.bbox)]
        image = detail.image
        self._say(f"predicting pair {detail.pair_id}…")
        self.call = run_core(self, "predict", predict_command(ckpt, image, boxes),
                             self._show_persons, self._failed)

    def _show_persons(self, result: dict[str, Any]) -> None:
        self.model.set_skeletons(predicted_skeletons(result, bones(H36M),
                                                     ["person A", "person B"]))
        self.viewer.by_error.setChecked(False)
        self._say("person A (orange) and B (cyan), root-relative, side by side")

    def _failed(self, text: str) -> None:
        self.evaluate_button.setEnabled(True)
        self._say(text, error=True)
