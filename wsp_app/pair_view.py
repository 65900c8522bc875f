"""The pair view: the image with both persons drawn, zoom and pan; and the label panel.

Drawn in image coordinates on a QGraphicsScene: person A in orange, B in cyan (boxes,
skeletons, an "A"/"B" tag), their ankle points and a horizontal line through each person's ankle
height (the cue the automatic label came from: lower ankles = closer), every other person of the
image dimmed grey.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QFrame, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView,
                               QGridLayout, QLabel, QVBoxLayout, QWidget)

from wsp_core.store.browse import PairDetail, PersonView
from wsp_core.verdicts import STATUS_TEXT

from .images import Loaded

COLOURS = {"a": QColor("#ff9f1c"), "b": QColor("#2ec4ff"), "other": QColor(200, 200, 200, 150)}
#: How a model's score was made: the model never saw the pair's image, it trained on it, or
#: it is not known (an older score, a model trained on another store).
SAMPLE_TEXT = {True: " (out-of-sample)", False: " (in-sample: trained on this image)", None: ""}


def effective_text(detail: PairDetail) -> tuple[str, QColor]:
    """The label training will use, in words, and its colour."""
    label = detail.label
    if label == 1:
        return "A is closer", COLOURS["a"]
    if label == 0:
        return "B is closer", COLOURS["b"]
    word = "Ambiguous" if detail.status == "ambiguous" else "Excluded"
    return f"{word}: not used", QColor("#d33")


class PairView(QGraphicsView):
    """Zoom with the wheel or +/-/0, pan by dragging. ``fit`` follows the window until the
    curator zooms."""

    #: a click on the image (the tab hands the keyboard back to the pair)
    pressed = Signal()
    #: in the depth-order mode: a click on a person (person id, Shift held)
    person_clicked = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the window's actions
        self.placeholder: str | None = None
        self._fit = True
        #: the persons a click picks in the depth-order mode (None outside it)
        self.pickable: tuple[PersonView, ...] | None = None
        #: the blind mode: no ankle marks (they are the cue the automatic label comes from)
        self.blind = False

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.pressed.emit()
        if self.pickable is not None and event.button() == Qt.MouseButton.LeftButton:
            person = self.person_at(self.mapToScene(event.position().toPoint()))
            if person is not None:
                shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                self.person_clicked.emit(person.person_id, shift)
                return
        super().mousePressEvent(event)

    def person_at(self, point: QPointF) -> PersonView | None:
        """The pickable person whose box holds the point (the smallest box when several do)."""
        hits = [p for p in self.pickable or ()
                if p.bbox[0] <= point.x() <= p.bbox[0] + p.bbox[2]
                and p.bbox[1] <= point.y() <= p.bbox[1] + p.bbox[3]]
        return min(hits, key=lambda p: p.bbox[2] * p.bbox[3]) if hits else None

    def show_pair(self, detail: PairDetail, loaded: Loaded | None,
                  order: tuple[tuple[PersonView, ...], dict[int, int]] | None = None) -> None:
        """Draw a pair; ``loaded`` None means the image is still being read. ``order``: the
        depth-order mode's persons and their ranks so far (person id → rank from 0)."""
        scene = self.scene()
        scene.clear()
        w, h = float(detail.width), float(detail.height)
        self.placeholder = None
        if loaded is not None and loaded.image is not None:
            item = scene.addPixmap(QPixmap.fromImage(loaded.image))
            item.setScale(loaded.scale)
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        else:
            self.placeholder = "loading image…" if loaded is None else loaded.error
            self._draw_placeholder(w, h, self.placeholder)
        self.pickable = order[0] if order is not None else None
        if order is None:
            for person in detail.others:
                self._draw_person(person, detail, COLOURS["other"], None, width=1.5)
            for key in ("a", "b"):
                self._draw_person(getattr(detail, key), detail, COLOURS[key], key.upper(),
                                  width=2.5)
        else:
            self._draw_order(detail, *order)
        scene.setSceneRect(QRectF(0, 0, w, h))
        if self._fit:
            self.zoom_fit()

    def _draw_order(self, detail: PairDetail, persons: tuple[PersonView, ...],
                    ranks: dict[int, int]) -> None:
        """Every person of the image with its depth rank (1 nearest; the same number for the
        same depth) or "?" while unranked: ranked ones in green, the others in grey."""
        ranked, waiting = QColor("#3c3"), QColor(210, 210, 210)
        for person in persons:
            rank = ranks.get(person.person_id)
            colour = ranked if rank is not None else waiting
            self._draw_person(person, detail, colour, str(rank + 1) if rank is not None else "?",
                              width=2.5)

    def _draw_placeholder(self, w: float, h: float, text: str) -> None:
        scene = self.scene()
        scene.addRect(QRectF(0, 0, w, h), QPen(QColor(120, 120, 120)), QBrush(QColor(70, 70, 74)))
        label = QGraphicsSimpleTextItem(text)
        font = QFont()
        font.setPointSizeF(max(10.0, w / 50))
        label.setFont(font)
        label.setBrush(QColor(230, 230, 230))
        rect = label.boundingRect()
        label.setPos(max(4.0, (w - rect.width()) / 2), (h - rect.height()) / 2)
        scene.addItem(label)

    def _draw_person(self, person: PersonView, detail: PairDetail, colour: QColor,
                     tag: str | None, width: float) -> None:
        scene = self.scene()
        kp = person.keypoints
        pen = QPen(colour, width)
        pen.setCosmetic(True)
        x, y, bw, bh = person.bbox
        if tag is not None:
            box_pen = QPen(colour, 1.5, Qt.PenStyle.DashLine)
            box_pen.setCosmetic(True)
            scene.addRect(QRectF(x, y, bw, bh), box_pen)
        for i, j in detail.bones:
            if kp[i][2] > 0 and kp[j][2] > 0:
                scene.addLine(kp[i][0], kp[i][1], kp[j][0], kp[j][1], pen)
        radius = max(1.5, 0.012 * max(bh, 1.0))
        for k, (jx, jy, v) in enumerate(kp):
            if v > 0:
                scene.addEllipse(jx - radius, jy - radius, 2 * radius, 2 * radius,
                                 QPen(Qt.PenStyle.NoPen), QBrush(colour))
        if tag is None:
            return
        if not self.blind:
            self._draw_ankles(person, detail, colour, radius)
        self._draw_tag(tag, x, y, colour, detail)

    def _draw_ankles(self, person: PersonView, detail: PairDetail, colour: QColor,
                     radius: float) -> None:
        scene = self.scene()
        kp = person.keypoints
        ring = QPen(QColor("white"), 1.5)
        ring.setCosmetic(True)
        for k in detail.ankles:
            if kp[k][2] > 0:
                r = radius * 2.2
                scene.addEllipse(kp[k][0] - r, kp[k][1] - r, 2 * r, 2 * r, ring, QBrush(colour))
        if person.ankle_y is not None:
            line = QPen(colour, 1.5, Qt.PenStyle.DashLine)
            line.setCosmetic(True)
            scene.addLine(0, person.ankle_y, float(detail.width), person.ankle_y, line)

    def _draw_tag(self, tag: str, x: float, y: float, colour: QColor,
                  detail: PairDetail) -> None:
        scene = self.scene()
        text = QGraphicsSimpleTextItem(tag)
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(max(9.0, detail.height / 32))
        text.setFont(font)
        text.setBrush(QColor(20, 20, 20))
        rect = text.boundingRect()
        top = max(0.0, y - rect.height() - 2)
        scene.addRect(QRectF(x, top, rect.width() + 6, rect.height() + 2), QPen(Qt.PenStyle.NoPen),
                      QBrush(colour))
        text.setPos(QPointF(x + 3, top + 1))
        scene.addItem(text)

    # -- zoom ---------------------------------------------------------------------------------
    def zoom(self, factor: float) -> None:
        self._fit = False
        self.scale(factor, factor)

    def zoom_fit(self) -> None:
        self._fit = True
        rect = self.scene().sceneRect()
        if rect.width() > 0 and rect.height() > 0:
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._fit:
            self.zoom_fit()


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


class PairInfo(QFrame):
    """The labels of the current pair: the effective label in large type, then the evidence."""

    FIELDS = ("pair", "source", "image", "status", "automatic label", "ΔS", "margin",
              "hug", "size conflict", "knee line", "suspicion", "model P(A closer)")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.headline = QLabel("no pair")
        self.headline.setObjectName("headline")
        font = QFont()
        font.setPointSize(22)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        layout.addWidget(self.headline)
        self.subline = QLabel("")
        layout.addWidget(self.subline)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        for row, name in enumerate(self.FIELDS):
            grid.addWidget(QLabel(name), row, 0)
            value = QLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            grid.addWidget(value, row, 1)
            self.values[name] = value
        layout.addLayout(grid)
        layout.addStretch(1)

    #: What the blind mode hides: the automatic label and what gives it away.
    BLIND_HIDES = ("status", "automatic label", "suspicion", "model P(A closer)")

    def show_pair(self, detail: PairDetail | None, blind: bool = False) -> None:
        if detail is None:
            self.headline.setText("no pair")
            self.subline.setText("the filter selects no pair")
            for value in self.values.values():
                value.setText("–")
            return
        if blind:
            self._show_blind(detail)
            return
        text, colour = effective_text(detail)
        self.headline.setText(text)
        self.headline.setStyleSheet(f"color: {colour.name()};")
        status = STATUS_TEXT[detail.status]
        if detail.reason:
            status += f" ({detail.reason.replace('_', ' ')})"
        self.subline.setText(f"label training uses: {_fmt(detail.label, 'd')}  ·  {status}")
        auto = "A closer (1)" if detail.auto_label == 1 else "B closer (0)"
        prob = detail.prob
        values = {
            "pair": str(detail.pair_id), "source": detail.source,
            "image": detail.file_name, "status": status, "automatic label": auto,
            "ΔS": _fmt(detail.delta_s),
            "margin": f"{detail.margin_px:.1f} px ({_fmt(detail.margin_rel, '.1%')})",
            "hug": _fmt(detail.hug, ".2f"),
            "size conflict": _fmt(detail.size_conflict, ".2f"),
            "knee line": _fmt(detail.knee_line, ".2f"),
            "suspicion": _fmt(detail.suspicion, ".2f"),
            "model P(A closer)": "no model scored this pair" if prob is None else
            f"{prob:.3f}{SAMPLE_TEXT[detail.prob_out_of_sample]}",
        }
        for name, value in values.items():
            self.values[name].setText(value)

    def _show_blind(self, detail: PairDetail) -> None:
        self.headline.setText("Which is closer?")
        self.headline.setStyleSheet("")
        self.subline.setText("A, B, or S for the same depth  ·  blind mode: the automatic "
                             "label is hidden (Ctrl+B shows it)")
        shown = {"pair": str(detail.pair_id), "source": detail.source,
                 "image": detail.file_name, "ΔS": _fmt(detail.delta_s),
                 "hug": _fmt(detail.hug, ".2f"), "size conflict": _fmt(detail.size_conflict, ".2f"),
                 "knee line": _fmt(detail.knee_line, ".2f"),
                 "margin": f"{detail.margin_px:.1f} px ({_fmt(detail.margin_rel, '.1%')})"}
        for name, value in self.values.items():
            value.setText(shown.get(name, "hidden" if name in self.BLIND_HIDES else "–"))
