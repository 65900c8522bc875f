"""The pair view: the image with both persons drawn, zoom and pan; and the label panel.

Drawn in image coordinates on a QGraphicsScene: person A in orange, B in cyan (boxes,
skeletons, an "A"/"B" tag), their ankle points and a horizontal line through each person's ankle
height (the cue the automatic label came from: lower ankles = closer), every other person of the
image dimmed grey.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (QAction, QBrush, QColor, QFont, QImage, QPainter, QPen,
                           QPixmap)
from PySide6.QtWidgets import (QApplication, QFrame, QGraphicsItem, QGraphicsScene,
                               QGraphicsSimpleTextItem, QGraphicsView, QHBoxLayout, QLabel,
                               QWidget)

from wsp_core.store.browse import PairDetail, PersonView
from wsp_core.verdicts import STATUS_TEXT

from .images import Loaded

#: Joint marks, ankle rings and tags keep these sizes on screen at every zoom.
DOT_PX, ANKLE_PX, TAG_PT = 3.5, 6.0, 11.0
OVERLAY_MODES = ("shown", "dimmed", "hidden")
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


class Skeleton(QGraphicsItem):
    """A person as one scene item: bones as cosmetic lines, the box (dashed) when given, and
    joint marks and ankle rings at a constant size on screen whatever the zoom. One item
    instead of one per line and mark (≈ 35 a person), which the scene builds, paints and
    clears several times faster."""

    def __init__(self, lines: list[QLineF], joints: list[QPointF], rings: list[QPointF],
                 colour: QColor, width: float, radius_px: float, box: QRectF | None) -> None:
        super().__init__()
        self._lines, self._joints, self._rings = lines, joints, rings
        self._colour, self._width, self._radius, self._box = colour, width, radius_px, box
        xs = [p.x() for p in joints] + [p.x() for p in rings]  # lines join joints
        ys = [p.y() for p in joints] + [p.y() for p in rings]
        if box is not None:
            xs += [box.left(), box.right()]
            ys += [box.top(), box.bottom()]
        self._rect = QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)) \
            if xs else QRectF()
        self._scale = 1.0  # screen pixels per picture pixel

    def set_view_scale(self, scale: float) -> None:
        """The view's zoom, so the bounding rect holds the marks' screen size."""
        if scale > 0 and scale != self._scale:
            self.prepareGeometryChange()
            self._scale = scale

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        pad = (ANKLE_PX + 2.0) / self._scale
        return self._rect.adjusted(-pad, -pad, pad, pad)

    def marks(self, to_screen) -> list[tuple[QRectF, bool]]:
        """Each joint mark and ankle ring as drawn on the screen (``to_screen``: the picture
        → screen transform), with whether it is a ring: their size does not depend on it."""
        out = []
        for points, radius, ring in ((self._joints, self._radius, False),
                                     (self._rings, ANKLE_PX, True)):
            for point in points:
                centre = to_screen.map(point)
                out.append((QRectF(centre.x() - radius, centre.y() - radius,
                                   2 * radius, 2 * radius), ring))
        return out

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self._colour, self._width)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLines(self._lines)
        if self._box is not None:
            dashed = QPen(self._colour, 1.5, Qt.PenStyle.DashLine)
            dashed.setCosmetic(True)
            painter.setPen(dashed)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self._box)
        marks = self.marks(painter.worldTransform())
        painter.save()
        painter.resetTransform()
        ring = QPen(QColor("white"), 1.5)
        painter.setBrush(self._colour)
        for rect, is_ring in marks:
            painter.setPen(ring if is_ring else Qt.PenStyle.NoPen)
            painter.drawEllipse(rect)
        painter.restore()


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
        #: 0 overlays shown, 1 dimmed, 2 hidden (H cycles)
        self.overlay_mode = 0
        #: keep the zoom from pair to pair (else each new pair starts fitted)
        self.keep_zoom = False
        self.brightness, self.contrast = 0.0, 1.0
        self._overlay: list = []
        self._tags: list = []
        self._skeletons: list[Skeleton] = []
        self._boxes: tuple = ()
        self._pixmap = None
        self._loaded: Loaded | None = None
        self._shown_pair: int | None = None
        #: (detail, picture, blind) of the drawing shown (None: draw the next one anew)
        self._drawn: tuple | None = None
        #: what is wrong with the picture shown, when it is shown anyway (cut short)
        self.warning: str | None = None

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
        depth-order mode's persons and their ranks so far (person id → rank from 0). A new
        pair starts fitted to the view unless "keep zoom" is on. The very pair and picture
        drawn last (a re-ranked queue shows its pair again) are not drawn again."""
        drawn = (detail, loaded, self.blind)
        if order is None and self._drawn is not None \
                and all(a is b for a, b in zip(drawn, self._drawn)):
            return
        self._drawn = drawn if order is None else None
        scene = self.scene()
        scene.clear()
        self._overlay, self._tags, self._skeletons = [], [], []
        self._pixmap = None
        if detail.pair_id != self._shown_pair and not self.keep_zoom:
            self._fit = True
        self._shown_pair = detail.pair_id
        w, h = float(detail.width), float(detail.height)
        self.placeholder = None
        self._loaded = loaded
        if loaded is not None and loaded.image is not None:
            self._pixmap = scene.addPixmap(QPixmap.fromImage(adjusted(loaded.image,
                                                                      self.brightness,
                                                                      self.contrast)))
            self._pixmap.setScale(loaded.scale)
            self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        else:
            self.placeholder = "loading image…" if loaded is None else loaded.error
            self._draw_placeholder(w, h, self.placeholder)
        self.warning = loaded.warning if loaded is not None else None
        if self.warning:
            self._draw_warning(self.warning)
        self.pickable = order[0] if order is not None else None
        if order is None:
            for person in detail.others:
                self._draw_person(person, detail, COLOURS["other"], None, width=1.5)
            for key in ("a", "b"):
                self._draw_person(getattr(detail, key), detail, COLOURS[key], key.upper(),
                                  width=2.5)
        else:
            self._draw_order(detail, *order)
        self._boxes = (detail.a.bbox, detail.b.bbox)
        scene.setSceneRect(QRectF(0, 0, w, h))
        self._apply_overlay_mode()
        if self._fit:
            self.zoom_fit()
        else:
            self._place_tags()

    def clear(self) -> None:
        """No pair shown (the filter selects none)."""
        self.scene().clear()
        self._overlay, self._tags, self._skeletons, self._pixmap = [], [], [], None
        self._drawn = None

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

    def _draw_warning(self, text: str) -> None:
        """A red banner at the picture's top left, at a constant size on screen (not an
        overlay: H never hides it)."""
        label = QGraphicsSimpleTextItem(f"⚠ {text}")
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(TAG_PT)
        label.setFont(font)
        label.setBrush(QColor("white"))
        rect = label.boundingRect()
        banner = self.scene().addRect(QRectF(0, 0, rect.width() + 10, rect.height() + 6),
                                      QPen(Qt.PenStyle.NoPen), QBrush(QColor(200, 30, 30, 230)))
        label.setParentItem(banner)
        label.setPos(5, 3)
        banner.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        banner.setZValue(20)

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

    def _keep(self, item):
        """An overlay item (hidden or dimmed with the overlays)."""
        self._overlay.append(item)
        return item

    def _draw_person(self, person: PersonView, detail: PairDetail, colour: QColor,
                     tag: str | None, width: float) -> None:
        """One :class:`Skeleton` item (bones, joint marks, the box and ankle rings of a tagged
        person), the ankle line and the tag."""
        kp = person.keypoints
        lines = [QLineF(kp[i][0], kp[i][1], kp[j][0], kp[j][1])
                 for i, j in detail.bones if kp[i][2] > 0 and kp[j][2] > 0]
        joints = [QPointF(x, y) for x, y, v in kp if v > 0]
        rings = [] if tag is None or self.blind else \
            [QPointF(kp[k][0], kp[k][1]) for k in detail.ankles if kp[k][2] > 0]
        box = QRectF(*person.bbox) if tag is not None else None
        skeleton = Skeleton(lines, joints, rings, colour, width,
                            DOT_PX if tag is not None else DOT_PX - 1.0, box)
        skeleton.set_view_scale(self.transform().m11())
        self.scene().addItem(skeleton)
        self._keep(skeleton)
        self._skeletons.append(skeleton)
        if tag is None:
            return
        if not self.blind and person.ankle_y is not None:
            line = QPen(colour, 1.5, Qt.PenStyle.DashLine)
            line.setCosmetic(True)
            self._keep(self.scene().addLine(0, person.ankle_y, float(detail.width),
                                            person.ankle_y, line))
        self._draw_tag(tag, person.bbox, colour)

    def _draw_tag(self, tag: str, box: tuple, colour: QColor) -> None:
        """A label of a constant size on screen, placed by :meth:`_place_tags`."""
        text = QGraphicsSimpleTextItem(tag)
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(TAG_PT)
        text.setFont(font)
        text.setBrush(QColor(20, 20, 20))
        rect = text.boundingRect()
        plate = self.scene().addRect(QRectF(0, 0, rect.width() + 6, rect.height() + 2),
                                     QPen(Qt.PenStyle.NoPen), QBrush(colour))
        text.setParentItem(plate)
        text.setPos(3, 1)
        plate.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        plate.setZValue(10)
        self._keep(plate)
        self._tags.append((plate, box))

    def _place_tags(self) -> None:
        """After a zoom: the marks told the new scale (their size on screen stays), and each
        tag placed again."""
        for skeleton in self._skeletons:
            skeleton.set_view_scale(self.transform().m11())
        self._place_tag_plates()

    def _place_tag_plates(self) -> None:
        """Each tag above its box's left corner, else its right corner, else below the box:
        the first place where it covers no tag placed before it (in screen pixels, so at every
        zoom)."""
        placed: list[QRectF] = []
        for plate, (x, y, w, h) in self._tags:
            size = plate.rect().size()
            scale = self.transform().m11() or 1.0
            tw, th = size.width() / scale, size.height() / scale
            candidates = [(x, y - th), (x + w - tw, y - th), (x, y + h), (x + w - tw, y + h)]
            for cx, cy in candidates:
                corner = self.mapFromScene(QPointF(cx, max(0.0, cy)))
                screen = QRectF(corner.x(), corner.y(), size.width(), size.height())
                if not any(screen.intersects(other) for other in placed):
                    break
            plate.setPos(cx, max(0.0, cy))
            placed.append(screen)

    # -- overlays and the picture -------------------------------------------------------------
    def cycle_overlays(self) -> str:
        """Overlays shown → dimmed → hidden → shown; returns the new state's name."""
        self.overlay_mode = (self.overlay_mode + 1) % len(OVERLAY_MODES)
        self._apply_overlay_mode()
        return OVERLAY_MODES[self.overlay_mode]

    def _apply_overlay_mode(self) -> None:
        opacity = (1.0, 0.3, 0.0)[self.overlay_mode]
        for item in self._overlay:
            item.setOpacity(opacity)
            item.setVisible(opacity > 0)

    def adjust(self, brightness: float = 0.0, contrast: float = 1.0) -> str:
        """Change the picture's brightness (added, -100..100) and contrast (a factor about mid
        grey, 0.4..2.5); kept from pair to pair. Returns the new setting in words."""
        self.brightness = float(np.clip(self.brightness + brightness, -100, 100))
        self.contrast = float(np.clip(self.contrast * contrast, 0.4, 2.5))
        self._repaint_picture()
        return f"brightness {self.brightness:+.0f}, contrast ×{self.contrast:.2f}"

    def reset_adjust(self) -> str:
        self.brightness, self.contrast = 0.0, 1.0
        self._repaint_picture()
        return "brightness and contrast as in the file"

    def _repaint_picture(self) -> None:
        if self._pixmap is not None and self._loaded is not None and self._loaded.image:
            self._pixmap.setPixmap(QPixmap.fromImage(adjusted(self._loaded.image, self.brightness,
                                                              self.contrast)))

    # -- zoom ---------------------------------------------------------------------------------
    def zoom(self, factor: float) -> None:
        self._fit = False
        self.scale(factor, factor)
        self._place_tags()

    def zoom_fit(self) -> None:
        self._fit = True
        rect = self.scene().sceneRect()
        if rect.width() > 0 and rect.height() > 0:
            self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._place_tags()

    def zoom_pair(self) -> None:
        """Zoom to both persons' boxes (with a margin of a tenth around them)."""
        if not self._boxes:
            return
        rect = QRectF()
        for x, y, w, h in self._boxes:
            rect = rect.united(QRectF(x, y, w, h))
        margin = 0.1 * max(rect.width(), rect.height())
        self._fit = False
        self.fitInView(rect.adjusted(-margin, -margin, margin, margin),
                       Qt.AspectRatioMode.KeepAspectRatio)
        self._place_tags()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._fit:
            self.zoom_fit()


def adjusted(image: QImage, brightness: float, contrast: float) -> QImage:
    """The picture with brightness added and contrast scaled about mid grey (a lookup table on
    the 8-bit channels); the image itself when both are neutral."""
    if brightness == 0.0 and contrast == 1.0:
        return image
    table = np.clip((np.arange(256) - 128.0) * contrast + 128.0 + brightness, 0, 255)
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = rgb.width(), rgb.height(), rgb.bytesPerLine()
    pixels = np.frombuffer(rgb.constBits(), np.uint8, count=stride * height).reshape(height,
                                                                                     stride)
    out = table.astype(np.uint8)[pixels[:, :width * 3]]
    result = QImage(np.ascontiguousarray(out).data, width, height, width * 3,
                    QImage.Format.Format_RGB888)
    return result.copy()  # owns its pixels


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


class Line:
    """One text of the labels panel (the headline, the subline or a field's value): it keeps
    its text and asks the panel to repaint only when the text changes."""

    def __init__(self, panel: QWidget, text: str = "–") -> None:
        self._panel, self._text = panel, text
        self.colour: QColor | None = None

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name, kept for its readers
        if text != self._text:
            self._text = text
            self._panel.update()


class PairInfo(QFrame):
    """The labels of the current pair: the effective label in large type, then the evidence.

    Painted as one widget: as sixteen word-wrapped QLabels it cost the window ≈ 8 ms of text
    layout and painting on every next pair (docs/BENCHMARKS.md, 2026-12-03). A right click
    copies the fields as text."""

    FIELDS = ("pair", "source", "image", "status", "automatic label", "ΔS", "margin",
              "hug", "size conflict", "knee line", "raised ground", "suspicion",
              "model P(A closer)",
              "suspicious because")
    #: values that wrap onto several lines; the others are elided in their middle
    WRAPPED = ("status", "model P(A closer)", "suspicious because")
    MARGIN, GAP = 10, 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.headline = Line(self, "no pair")
        self.subline = Line(self, "")
        self.values: dict[str, Line] = {name: Line(self) for name in self.FIELDS}
        self._big = QFont(self.font())
        self._big.setPointSize(22)
        self._big.setBold(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        copy = QAction("Copy the pair's labels", self)
        copy.triggered.connect(lambda: QApplication.clipboard().setText(self.as_text()))
        self.addAction(copy)

    def as_text(self) -> str:
        """What the panel shows, one line per field (the copy action's text)."""
        lines = [self.headline.text(), self.subline.text()]
        lines += [f"{name}: {value.text()}" for name, value in self.values.items()]
        return "\n".join(lines)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(200, 300)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(330, 520)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        painter = QPainter(self)
        text_colour = self.palette().color(self.foregroundRole())
        left, width = self.MARGIN, self.width() - 2 * self.MARGIN
        painter.setFont(self._big)
        painter.setPen(self.headline.colour or text_colour)
        big = painter.fontMetrics()
        y = self.MARGIN
        painter.drawText(QRect(left, y, width, big.height()), Qt.AlignmentFlag.AlignLeft,
                         big.elidedText(self.headline.text(), Qt.TextElideMode.ElideRight, width))
        y += big.height() + 4
        painter.setFont(self.font())
        painter.setPen(text_colour)
        y += self._wrapped(painter, QRect(left, y, width, 0), self.subline.text()) + 8
        metrics = painter.fontMetrics()
        name_w = max(metrics.horizontalAdvance(name) for name in self.FIELDS) + self.GAP
        value_w = max(20, width - name_w)
        for name, value in self.values.items():
            painter.drawText(QRect(left, y, name_w, metrics.height()), 0, name)
            box = QRect(left + name_w, y, value_w, 0)
            if name in self.WRAPPED:
                height = self._wrapped(painter, box, value.text())
            else:
                painter.drawText(box.adjusted(0, 0, 0, metrics.height()), 0,
                                 metrics.elidedText(value.text(), Qt.TextElideMode.ElideMiddle,
                                                    value_w))
                height = metrics.height()
            y += height + 3
        painter.end()

    @staticmethod
    def _wrapped(painter: QPainter, box: QRect, text: str) -> int:
        """Draw ``text`` word-wrapped into ``box``'s width; returns the height it took."""
        if not text:
            return 0
        flags = int(Qt.TextFlag.TextWordWrap)
        need = painter.fontMetrics().boundingRect(QRect(box.x(), box.y(), box.width(), 10_000),
                                                  flags, text)
        painter.drawText(QRect(box.x(), box.y(), box.width(), need.height()), flags, text)
        return need.height()

    def _set_headline(self, text: str, colour: QColor | None) -> None:
        if colour != self.headline.colour:
            self.headline.colour = colour
            self.update()
        self.headline.setText(text)

    #: What the blind mode hides: the automatic label and what gives it away.
    BLIND_HIDES = ("status", "automatic label", "suspicion", "model P(A closer)",
                   "suspicious because")

    def show_pair(self, detail: PairDetail | None, blind: bool = False) -> None:
        if detail is None:
            self._set_headline("no pair", None)
            self.subline.setText("the filter selects no pair")
            for value in self.values.values():
                value.setText("–")
            return
        if blind:
            self._show_blind(detail)
            return
        text, colour = effective_text(detail)
        self._set_headline(text, colour)
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
            "raised ground": _fmt(detail.raised_ground, ".2f"),
            "suspicion": _fmt(detail.suspicion, ".2f"),
            "model P(A closer)": "no model scored this pair" if prob is None else
            f"{prob:.3f}{SAMPLE_TEXT[detail.prob_out_of_sample]}",
            "suspicious because": "\n".join(detail.evidence()) or "no evidence against the label",
        }
        for name, value in values.items():
            self.values[name].setText(value)

    def _show_blind(self, detail: PairDetail) -> None:
        self._set_headline("Which is closer?", None)
        self.subline.setText("A, B, or S for the same depth  ·  blind mode: the automatic "
                             "label is hidden (Ctrl+B shows it)")
        shown = {"pair": str(detail.pair_id), "source": detail.source,
                 "image": detail.file_name, "ΔS": _fmt(detail.delta_s),
                 "hug": _fmt(detail.hug, ".2f"), "size conflict": _fmt(detail.size_conflict, ".2f"),
                 "knee line": _fmt(detail.knee_line, ".2f"),
                 "raised ground": _fmt(detail.raised_ground, ".2f"),
                 "margin": f"{detail.margin_px:.1f} px ({_fmt(detail.margin_rel, '.1%')})"}
        for name, value in self.values.items():
            value.setText(shown.get(name, "hidden" if name in self.BLIND_HIDES else "–"))


class PairStrip(QWidget):
    """A and B cropped from the picture (their boxes and a tenth around them) side by side at
    one height, so the two persons can be compared at full detail whatever the zoom."""

    HEIGHT = 200

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.crops = {key: QLabel() for key in ("a", "b")}
        self._shown: int | None = None  # the pair whose crops are shown
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for key, label in self.crops.items():
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumHeight(self.HEIGHT)
            label.setStyleSheet(f"border: 2px solid {COLOURS[key].name()}; background: #28282c;")
            layout.addWidget(label, 1)

    def show_pair(self, detail: PairDetail | None, loaded: Loaded | None) -> list:
        """Show A's and B's crops; returns the regions (key, file rect) to read at full
        resolution when the picture was shrunk (:meth:`show_region` shows each when read)."""
        self._shown = detail.pair_id if detail is not None else None
        wanted = []
        for key, label in self.crops.items():
            label.clear()
            if detail is None or loaded is None or loaded.image is None:
                label.setText(f"{key.upper()}: no picture")
                continue
            bbox = getattr(detail, key).bbox
            self._show_crop(key, self.crop(loaded, bbox), "picture pixels, shrunk"
                            if loaded.scale > 1 else "picture pixels")
            if loaded.scale > 1:  # the same box in the file's pixels
                file_rect = QRect(0, 0, round(loaded.image.width() * loaded.scale),
                                  round(loaded.image.height() * loaded.scale))
                wanted.append(((detail.pair_id, key), self.box_rect(bbox, file_rect, 1.0)))
        return wanted

    def show_region(self, key: tuple, image: QImage | None) -> None:
        """A crop read at full resolution, when it is of the pair still shown."""
        pair_id, which = key
        if image is not None and pair_id == self._shown:
            self._show_crop(which, image, "file pixels, full resolution")

    def _show_crop(self, key: str, crop: QImage, what: str) -> None:
        label = self.crops[key]
        label.setPixmap(QPixmap.fromImage(crop.scaledToHeight(
            self.HEIGHT, Qt.TransformationMode.SmoothTransformation)))
        label.setToolTip(f"{key.upper()}: {crop.width()}×{crop.height()} {what}")

    @classmethod
    def crop(cls, loaded: Loaded, bbox: tuple) -> QImage:
        """The box and a tenth of its size around it, in the picture's pixels (a shrunk
        picture's scale taken into account), clipped to the picture."""
        return loaded.image.copy(cls.box_rect(bbox, loaded.image.rect(), loaded.scale))

    @staticmethod
    def box_rect(bbox: tuple, bounds: QRect, scale: float) -> QRect:
        """A box (file pixels) and a tenth of its size around it, in pixels of a picture
        shrunk by ``scale``, clipped to ``bounds``."""
        x, y, w, h = (v / scale for v in bbox)
        margin = 0.1 * max(w, h)
        return QRect(int(x - margin), int(y - margin), int(w + 2 * margin) + 1,
                     int(h + 2 * margin) + 1).intersected(bounds)
