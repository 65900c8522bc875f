"""Every keyboard shortcut of the app, as named actions in one place (napari's habit).

Widgets never bind keys themselves: the window builds a QAction per spec below and connects it
to the handler of the same name. The help dialog (F1) and docs/CURATION.md list this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from wsp_core.verdicts import REASON_TEXT, REASONS


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcuts: tuple[str, ...]
    group: str
    help: str = ""


def _reason_actions() -> list[ActionSpec]:
    out = []
    for k, reason in enumerate(REASONS, start=1):
        text = REASON_TEXT[reason]
        out.append(ActionSpec(f"ambiguous_{reason}", f"Ambiguous: {text}", (str(k),), "Review",
                              "neither label is right for sure; the pair leaves training"))
    for k, reason in enumerate(REASONS, start=1):
        out.append(ActionSpec(f"flip_{reason}", f"Flip, because of {REASON_TEXT[reason]}",
                              (f"Alt+{k}",), "Review", "the other person is closer"))
    for k, reason in enumerate(REASONS, start=1):
        out.append(ActionSpec(f"exclude_{reason}", f"Exclude, because of {REASON_TEXT[reason]}",
                              (f"Ctrl+{k}",), "Review", "the pair is unusable"))
    return out


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_store", "&Open store…", ("Ctrl+O",), "File"),
    ActionSpec("open_server", "Open &server store…", ("Ctrl+Shift+O",), "File",
               "a team's store on a PostgreSQL server (postgresql://user@host/database)"),
    ActionSpec("set_reviewer", "Your &name…", ("Ctrl+Shift+N",), "File",
               "the name written with each of your verdicts (a team's curators are people)"),
    ActionSpec("refresh", "&Refresh", ("F5",), "File",
               "re-read the queue (other processes may have written to the store)"),
    ActionSpec("relink_images", "Re&link images…", ("Ctrl+L",), "File",
               "a source's images moved: point the store at their new folder"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "File"),
    ActionSpec("accept", "&Accept", ("Space", "Y"), "Review",
               "the automatic label is right"),
    ActionSpec("flip", "&Flip", ("F",), "Review", "the other person is closer"),
    ActionSpec("exclude", "E&xclude", ("X",), "Review", "the pair is unusable"),
    *_reason_actions(),
    ActionSpec("reset", "&Reset to automatic", ("R",), "Review",
               "forget the verdict: the automatic label applies again"),
    ActionSpec("note", "Add a &note…", ("N",), "Review", "a free note on the current pair"),
    ActionSpec("answer_a", "A is closer (blind)", ("A",), "Review",
               "blind mode: the desk writes accept or flip from the hidden label"),
    ActionSpec("answer_b", "B is closer (blind)", ("B",), "Review",
               "blind mode: the desk writes accept or flip from the hidden label"),
    ActionSpec("answer_same", "Same depth (blind)", ("S",), "Review",
               "blind mode: ambiguous, same depth / too close to call"),
    ActionSpec("order_image", "&Order the image by depth", ("O",), "Review",
               "click the persons from nearest to farthest (Shift+click: the same depth as "
               "the last one, a click on a numbered person takes it back); Return writes "
               "every pair of the image"),
    ActionSpec("order_done", "Write the depth &order", ("Return", "Enter"), "Review",
               "every pair of the image whose two persons are numbered, in one step"),
    ActionSpec("order_cancel", "Leave the depth order", ("Escape",), "Review"),
    ActionSpec("undo", "&Undo", ("Ctrl+Z",), "Review", "a new review restores the pair"),
    ActionSpec("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "Review"),
    ActionSpec("next", "&Next pair", ("D", "Right", "PgDown"), "Navigate"),
    ActionSpec("previous", "&Previous pair", ("A", "Left", "PgUp"), "Navigate"),
    ActionSpec("next_unreviewed", "Next &unreviewed pair", ("Shift+D",), "Navigate"),
    ActionSpec("first", "&First pair", ("Home",), "Navigate"),
    ActionSpec("focus_filters", "&Filters", ("Ctrl+F",), "Navigate",
               "edit the filters (Escape or Return hands the keys back to the pair)"),
    ActionSpec("reset_filters", "R&eset filters", ("Ctrl+Shift+F",), "Navigate",
               "every filter back to any (the queue and the model stay)"),
    ActionSpec("zoom_in", "Zoom &in", ("+", "="), "View"),
    ActionSpec("zoom_out", "Zoom &out", ("-",), "View"),
    ActionSpec("zoom_fit", "&Fit image", ("0",), "View"),
    ActionSpec("zoom_pair", "Zoom to the &pair", ("Z",), "View", "both persons' boxes"),
    ActionSpec("keep_zoom", "&Keep the zoom", ("K",), "View",
               "keep the zoom from pair to pair (else each pair starts fitted)"),
    ActionSpec("practice", "&Practice mode", ("Ctrl+P",), "View",
               "after each verdict the 3D truth is told and your accuracy kept (sources with "
               "3D truth: the synthetic world)"),
    ActionSpec("strip", "A and B side by side", ("V",), "View",
               "a strip under the picture with A and B cropped at one height"),
    ActionSpec("overlays", "&Overlays shown, dimmed, hidden", ("H",), "View",
               "the skeletons, boxes, tags and ankle lines: shown, dimmed or hidden"),
    ActionSpec("brighter", "Brighter", ("]",), "View"),
    ActionSpec("darker", "Darker", ("[",), "View"),
    ActionSpec("more_contrast", "More contrast", ("'",), "View"),
    ActionSpec("less_contrast", "Less contrast", (";",), "View"),
    ActionSpec("picture_reset", "Brightness and contrast as in the file", ("Ctrl+0",), "View"),
    ActionSpec("blind_mode", "&Blind mode", ("Ctrl+B",), "View",
               "hide the automatic label and answer which person is closer (A, B, S); on by "
               "default in the random QA sample, so the estimate is not anchored by the label"),
    ActionSpec("help", "&Keyboard shortcuts", ("F1",), "Help"),
)
SPECS: dict[str, ActionSpec] = {spec.name: spec for spec in ACTIONS}
#: The groups whose actions act on the pair shown in the Pairs tab: they are enabled only while
#: that tab is shown, so no key writes a verdict on a pair the curator does not see.
PAIR_GROUPS = ("Review", "Navigate", "View")
#: Actions of the depth-order mode: enabled only in it, while the review and navigation keys
#: are not (the curator is ordering the image shown).
ORDER_ACTIONS = ("order_done", "order_cancel")
#: The blind mode's answers: enabled only in it; their keys are taken from the actions of the
#: pair groups while it is on (A is "previous" outside it).
BLIND_ACTIONS = ("answer_a", "answer_b", "answer_same")
#: Verdicts that name the shown label: at rest in the blind mode (the label is hidden).
LABEL_VERDICTS = ("accept", "flip") + tuple(f"flip_{r}" for r in REASONS)


def build_actions(parent: QWidget, handlers: dict[str, Callable[[], None]],
                  keys: dict[str, tuple[str, ...]] | None = None) -> dict[str, QAction]:
    """One QAction per spec, connected to ``handlers[name]`` and added to ``parent``, on the
    spec's keys or those ``keys`` gives it (wsp_app/keymap.py).

    Raises KeyError when a spec has no handler, so a new shortcut cannot be forgotten.
    """
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, parent)
        action.setObjectName(spec.name)
        shortcuts = keys.get(spec.name, spec.shortcuts) if keys else spec.shortcuts
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if spec.help:
            action.setStatusTip(spec.help)
        handler = handlers[spec.name]
        action.triggered.connect(lambda _checked=False, run=handler: run())
        parent.addAction(action)
        actions[spec.name] = action
    return actions


def help_rows(keys: dict[str, tuple[str, ...]] | None = None) -> list[tuple[str, ...]]:
    """(group, keys, action, what it does, name) for the help dialog: the keys in use."""
    return [(spec.group, ", ".join(keys.get(spec.name, spec.shortcuts) if keys
                                   else spec.shortcuts),
             spec.text.replace("&", "").rstrip("…"), spec.help, spec.name) for spec in ACTIONS]
