"""The Jobs tab's form: a job kind and one field per option of its ``wsp-core`` command.

The fields come from the CLI's own parser (wsp_core.launch.form_fields), so the form and the
command cannot drift apart: an option added to the CLI appears here, with its help as tooltip.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLineEdit, QVBoxLayout,
                               QWidget)

from wsp_core.launch import JOB_KINDS, SWITCH_ON, Field, form_fields

from .widgets import path_row


def _label(f: Field) -> str:
    """A field's label: * when required; "(or …)" for one of a required group."""
    if f.required:
        return f"{f.label} *"
    if f.one_of:
        others = [name for name in f.one_of.split(" or ") if name != f.label]
        return f"{f.label} (* or {' or '.join(others)})"
    return f.label


class JobForm(QWidget):
    """``values()`` gives the form as ``job_command`` takes it; ``set_values`` fills it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store_path = ""
        self.kind = QComboBox()
        self.kind.addItems(list(JOB_KINDS))
        self.kind.currentTextChanged.connect(self._build)
        self.fields = QFormLayout()
        top = QFormLayout()
        top.addRow("Kind", self.kind)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(self.fields)
        self.inputs: dict[str, QWidget] = {}
        #: what the curator typed (or the last run gave), by field name: a field of the same
        #: name keeps it when the kind changes
        self.memory: dict[str, str] = {}
        self._build(self.kind.currentText())

    def _build(self, kind: str) -> None:
        if self.inputs:
            self.memory.update({k: v for k, v in self.values().items() if v})
        while self.fields.rowCount():
            self.fields.removeRow(0)
        self.inputs = {}
        for f in form_fields(kind):
            widget, row = self._input(f)
            widget.setToolTip(f.help)
            self.fields.addRow(_label(f), row)
            self.inputs[f.name] = widget
            if self.memory.get(f.name) and f.kind != "switch":
                self._set(widget, self.memory[f.name])

    def remember(self, name: str, value: str) -> None:
        """A value for the field ``name`` of later forms (a finished run's checkpoint)."""
        self.memory[name] = value
        if name in self.inputs:
            self._set(self.inputs[name], value)

    def _input(self, f: Field) -> tuple[QWidget, QWidget]:
        if f.kind == "switch":
            box = QCheckBox()
            box.setChecked(f.default.lower() in SWITCH_ON)
            return box, box
        if f.kind == "choice":
            combo = QComboBox()
            combo.setEditable(f.editable)
            if not f.required and not f.default:
                combo.addItem("")  # the command's own default
            combo.addItems(list(f.choices))
            combo.setCurrentText(f.default)
            return combo, combo
        edit = QLineEdit(f.default)
        if f.help:
            edit.setPlaceholderText(f.help)
        if f.name == "db" and self.store_path:
            edit.setText(self.store_path)
        if f.kind in ("file", "dir"):
            return edit, path_row(edit, self, folder=f.kind == "dir", title=f"Choose the {f.label}")
        return edit, edit

    def current_kind(self) -> str:
        return self.kind.currentText()

    def values(self) -> dict[str, str]:
        out = {}
        for name, widget in self.inputs.items():
            if isinstance(widget, QCheckBox):
                out[name] = "true" if widget.isChecked() else ""
            elif isinstance(widget, QComboBox):
                out[name] = widget.currentText()
            else:
                out[name] = widget.text()
        return out

    def set_values(self, kind: str, values: dict[str, str]) -> None:
        """Fill the form (tests, and the job list's "use again")."""
        self.kind.setCurrentText(kind)
        for name, value in values.items():
            self._set(self.inputs[name], value)

    @staticmethod
    def _set(widget: QWidget, value: str) -> None:
        if isinstance(widget, QCheckBox):
            widget.setChecked(value.lower() in SWITCH_ON)
        elif isinstance(widget, QComboBox):
            widget.setCurrentText(value)
        else:
            widget.setText(value)

    def set_store(self, path: str) -> None:
        """The open store fills the store field (unless the curator typed another)."""
        self.store_path = path
        if "db" in self.inputs and not self.values().get("db"):
            self.inputs["db"].setText(path)
