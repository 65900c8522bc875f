"""The filter and queue panel: what the desk shows, and in which order.

Any change is applied after a short pause (typing a file name does not run a query per key).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLineEdit, QWidget)

from wsp_core.store.browse import DEFAULT_MODEL_MIN_AUC, QUEUES, PairFilter, default_checkpoint
from wsp_core.verdicts import REASONS, STATUSES

from .actions import REASON_TEXT

_ANY = "any"
#: (text, key) of the status choices; STATUS_SETS maps a key to the statuses it selects.
STATUS_CHOICES = [(_ANY, ""), ("not reviewed", "auto"), ("reviewed", "reviewed")] + \
    [(s, s) for s in STATUSES[1:]]
STATUS_SETS = {"": (), "reviewed": tuple(s for s in STATUSES if s != "auto"),
               **{s: (s,) for s in STATUSES}}


def _delta_s_box(tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(-0.001, 10.0)
    box.setDecimals(3)
    box.setSingleStep(0.05)
    box.setSpecialValueText(_ANY)  # shown at the minimum: no bound
    box.setValue(box.minimum())
    box.setToolTip(tip)
    return box


def _short_path(path: str) -> str:
    """A checkpoint's run folder and file name (the whole path is in the tooltip)."""
    return "/".join(Path(path).parts[-2:])


#: Keys that end an edit in the filter panel and hand the keyboard back to the pair.
_DONE_KEYS = (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter)
#: Keys a ΔS box steps its value by, which the window's shortcuts (PgUp/PgDown: previous/next
#: pair) must not take from it while it has the keyboard.
_STEP_KEYS = (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Up, Qt.Key.Key_Down)


def _auc_note(checkpoint: dict) -> str:
    auc = checkpoint.get("val_auc")
    if auc is None:
        return " · validation AUC unknown"
    low = "" if auc >= DEFAULT_MODEL_MIN_AUC else " (too weak to rank by default)"
    return f" · val AUC {auc:.2f}{low}"


def _sample_note(checkpoint: dict) -> str:
    """Whether a model's scores can be trusted to find wrong labels: out-of-sample ones can; a
    model that trained on a pair's image has fit its label, wrong or not."""
    if checkpoint.get("in_sample"):
        return f" · in-sample on {checkpoint['in_sample']:,} pairs"
    if checkpoint.get("out_of_sample") == checkpoint.get("pairs"):
        return " · out-of-sample"
    return ""


class FilterPanel(QWidget):
    """Emits ``changed`` when the filter, the queue or the checkpoint changes, and ``done``
    when the curator ends an edit with Escape or Return (the keys then go back to the pair)."""

    changed = Signal()
    done = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self, singleShot=True, interval=200)
        self._timer.timeout.connect(self.changed)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.queue = QComboBox()
        for key, text in QUEUES.items():
            self.queue.addItem(text, key)
        form.addRow("Queue", self.queue)
        self.status = QComboBox()
        for text, key in STATUS_CHOICES:
            self.status.addItem(text, key)
        form.addRow("Status", self.status)
        self.source = QComboBox()
        form.addRow("Source", self.source)
        self.reason = QComboBox()
        self.reason.addItem(_ANY, "")
        for reason in REASONS:
            self.reason.addItem(REASON_TEXT[reason], reason)
        form.addRow("Reason", self.reason)
        row = QHBoxLayout()
        self.ds_min = _delta_s_box("smallest ΔS (scale gap) shown")
        self.ds_max = _delta_s_box("largest ΔS (scale gap) shown")
        row.addWidget(self.ds_min)
        row.addWidget(self.ds_max)
        form.addRow("ΔS from, to", row)
        self.image = QLineEdit()
        self.image.setPlaceholderText("part of an image file name")
        self.image.setClearButtonEnabled(True)
        form.addRow("Image", self.image)
        self.reviewer = QLineEdit()
        self.reviewer.setPlaceholderText("a curator's name: the pairs they judged")
        self.reviewer.setClearButtonEnabled(True)
        form.addRow("Reviewed by", self.reviewer)
        self.checkpoint = QComboBox()
        self.checkpoint.setToolTip("the model whose probabilities the suspicious queue and the "
                                   "disagreement filter use")
        form.addRow("Model", self.checkpoint)
        self.disagree = QCheckBox("only where the model disagrees")
        form.addRow("", self.disagree)
        for combo in (self.queue, self.status, self.source, self.reason, self.checkpoint):
            combo.currentIndexChanged.connect(self._later)
        for box in (self.ds_min, self.ds_max):
            box.valueChanged.connect(self._later)
        self.image.textChanged.connect(self._later)
        self.reviewer.textChanged.connect(self._later)
        self.disagree.toggled.connect(self._later)
        self.set_sources([])
        self.set_checkpoints([])
        for widget in (self.queue, self.status, self.source, self.reason, self.ds_min,
                       self.ds_max, self.image, self.reviewer, self.checkpoint, self.disagree):
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Escape or Return in a field applies the filter at once and hands the keys back; a
        ΔS box keeps its step keys from the window's shortcuts, and one left empty (by a key
        or a click elsewhere) means no bound ("any")."""
        kind = event.type()
        boxes = (self.ds_min, self.ds_max)
        if kind == QEvent.Type.ShortcutOverride and watched in boxes \
                and event.key() in _STEP_KEYS:
            event.accept()  # the box handles the key; no shortcut fires
            return True
        if kind == QEvent.Type.KeyPress and event.key() in _DONE_KEYS:
            if watched in boxes:
                self._empty_is_any(watched)
            self.apply_now()
            self.done.emit()
            return True
        if kind == QEvent.Type.FocusOut and watched in boxes:
            self._empty_is_any(watched)
        return super().eventFilter(watched, event)

    @staticmethod
    def _empty_is_any(box: QDoubleSpinBox) -> None:
        if not box.cleanText().strip():
            box.setValue(box.minimum())

    def reset(self) -> None:
        """Every filter back to "any" (the queue kind and the model stay): one change."""
        widgets = (self.status, self.source, self.reason, self.ds_min, self.ds_max, self.image,
                   self.reviewer, self.disagree)
        for widget in widgets:
            widget.blockSignals(True)
        for combo in (self.status, self.source, self.reason):
            combo.setCurrentIndex(0)
        for box in (self.ds_min, self.ds_max):
            box.setValue(box.minimum())
        self.image.clear()
        self.reviewer.clear()
        self.disagree.setChecked(False)
        for widget in widgets:
            widget.blockSignals(False)
        self.apply_now()

    def _later(self, *_args) -> None:
        self._timer.start()

    def apply_now(self) -> None:
        """Apply the last change without waiting for the pause."""
        self._timer.stop()
        self.changed.emit()

    def is_pending(self) -> bool:
        """A change waits for its short pause before it is applied."""
        return self._timer.isActive()

    def set_sources(self, names: list[str]) -> None:
        self._refill(self.source, [("all sources", "")] + [(n, n) for n in names])

    def set_checkpoints(self, checkpoints: list[dict], fresh: bool = False) -> None:
        """The models that scored the store, the latest first, each with its validation AUC
        and whether its scores are out-of-sample. ``fresh`` (a store just opened): choose the
        latest good enough to rank by (browse.default_checkpoint), else "no model" (the cue
        scores); otherwise keep the curator's choice, "no model" included."""
        listed = self.checkpoint.count() > 1
        items = [("no model (cue scores)", None)] + [
            (_short_path(c["checkpoint"]) + _auc_note(c) + _sample_note(c), c["checkpoint"])
            for c in checkpoints]
        self._refill(self.checkpoint, items)
        if checkpoints and (fresh or not listed) and self.checkpoint.currentIndex() == 0:
            chosen = default_checkpoint(checkpoints)
            if chosen is not None:
                self.checkpoint.setCurrentIndex(self.checkpoint.findData(chosen))

    @staticmethod
    def _refill(combo: QComboBox, items: list[tuple[str, object]]) -> None:
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        for text, data in items:
            combo.addItem(text, data)
            combo.setItemData(combo.count() - 1, str(data), Qt.ItemDataRole.ToolTipRole)
        index = combo.findData(current)
        combo.setCurrentIndex(max(index, 0))
        combo.blockSignals(False)

    def _bound(self, box: QDoubleSpinBox) -> float | None:
        return None if box.value() <= box.minimum() else box.value()

    def pair_filter(self) -> PairFilter:
        source, reason = self.source.currentData(), self.reason.currentData()
        return PairFilter(statuses=STATUS_SETS[self.status.currentData()],
                          sources=(source,) if source else (),
                          reasons=(reason,) if reason else (),
                          delta_s_min=self._bound(self.ds_min),
                          delta_s_max=self._bound(self.ds_max), image=self.image.text(),
                          reviewer=self.reviewer.text().strip(),
                          disagree=self.disagree.isChecked())

    def queue_kind(self) -> str:
        return self.queue.currentData()

    def checkpoint_path(self) -> str | None:
        return self.checkpoint.currentData()

    def set_queue_kind(self, kind: str) -> None:
        self.queue.setCurrentIndex(self.queue.findData(kind))

    def set_status(self, key: str) -> None:
        """Choose a status by key: "" (any), "auto", "reviewed" or a verdict."""
        self.status.setCurrentIndex(self.status.findData(key))
