"""The 3D tab's scene model: skeletons to show, their colours and errors, the picked joint.

Plain Python and numpy, no Qt and no OpenGL: the vispy view (viewer3d.py) subscribes to it and
redraws on its events; tests check the model without a GPU (napari's habit: the model never
calls the view).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: One colour per person (RGB 0..1); the truth is drawn in white over the prediction.
PERSON_COLOURS = ((1.0, 0.62, 0.11), (0.18, 0.77, 1.0), (0.55, 0.85, 0.30), (0.92, 0.40, 0.80),
                  (1.0, 0.90, 0.25), (0.60, 0.50, 1.0))
TRUTH_COLOUR = (0.92, 0.92, 0.92)
#: A predicted skeleton whose joints all lie this close to their mean has collapsed to a point.
COLLAPSED_MM = 50.0
#: Per-joint error colours run from green (0 mm) through yellow to red (at this error and above).
ERROR_RED_MM = 200.0


def person_colour(k: int) -> tuple[float, float, float]:
    return PERSON_COLOURS[k % len(PERSON_COLOURS)]


def error_colours(errors: np.ndarray) -> np.ndarray:
    """RGBA (N, 4) for per-joint errors in mm: green, yellow at half the scale, red."""
    t = np.clip(np.asarray(errors, dtype=np.float64) / ERROR_RED_MM, 0.0, 1.0)
    red = np.clip(2 * t, 0, 1)
    green = np.clip(2 * (1 - t), 0, 1) * 0.85
    return np.stack([red, green, np.full_like(t, 0.1), np.ones_like(t)], axis=1)


def to_world(joints_mm: np.ndarray) -> np.ndarray:
    """Camera-frame joints (mm; x right, y down, z away) to the scene's frame (m; z up)."""
    j = np.asarray(joints_mm, dtype=np.float64) / 1000.0
    return np.stack([j[:, 0], j[:, 2], -j[:, 1]], axis=1)


@dataclass
class Skeleton:
    joints_mm: np.ndarray                 # (J, 3), camera frame, root-relative or not
    bones: list[tuple[int, int]]
    colour: tuple[float, float, float]
    label: str                            # "person 1 prediction", ...
    names: tuple[str, ...] = ()
    errors_mm: np.ndarray | None = None   # (J,) per-joint error, when the truth is known
    offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0)  # where the scene places it

    def points(self) -> np.ndarray:
        return to_world(self.joints_mm) + np.asarray(self.offset_m)


class SceneModel:
    """Skeletons, whether joints show their error, and the last picked joint."""

    def __init__(self) -> None:
        self.skeletons: list[Skeleton] = []
        self.colour_by_error = False
        self.picked: tuple[int, int] | None = None
        self._listeners: list[Callable[[str], None]] = []

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """``listener(what)`` is called after each change (what: skeletons, colours, picked)."""
        self._listeners.append(listener)

    def _notify(self, what: str) -> None:
        for listener in list(self._listeners):
            listener(what)

    def set_skeletons(self, skeletons: list[Skeleton]) -> None:
        self.skeletons = list(skeletons)
        self.picked = None
        self._notify("skeletons")

    def set_colour_by_error(self, on: bool) -> None:
        self.colour_by_error = bool(on)
        self._notify("colours")

    def joint_colours(self, k: int) -> np.ndarray:
        """RGBA (J, 4) of skeleton k's joints: its colour, or its errors' colours."""
        sk = self.skeletons[k]
        if self.colour_by_error and sk.errors_mm is not None:
            return error_colours(sk.errors_mm)
        return np.tile([*sk.colour, 1.0], (len(sk.joints_mm), 1))

    @property
    def has_truth(self) -> bool:
        """Whether any skeleton shown knows its per-joint errors (colouring by error means
        something only then)."""
        return any(sk.errors_mm is not None for sk in self.skeletons)

    def legend(self) -> list[tuple[str, tuple[float, float, float]]]:
        """(label, colour) of each skeleton shown, in drawing order."""
        return [(sk.label, sk.colour) for sk in self.skeletons]

    def warnings(self) -> list[str]:
        """What a viewer should not miss: a predicted skeleton whose joints all lie within
        :data:`COLLAPSED_MM` of their mean (a network that learned nothing draws a point)."""
        out = []
        for sk in self.skeletons:
            if sk.colour == TRUTH_COLOUR or not len(sk.joints_mm):
                continue
            joints = np.asarray(sk.joints_mm, dtype=float)
            spread = float(np.linalg.norm(joints - joints.mean(0), axis=1).max())
            if spread < COLLAPSED_MM:
                out.append(f"{sk.label}: every joint within {spread:.0f} mm of the others: the "
                           "model predicts a point, not a pose")
        return out

    def ground_z(self) -> float:
        """The height of the ground grid: under the lowest joint shown (0 without skeletons)."""
        if not self.skeletons:
            return 0.0
        return float(min(sk.points()[:, 2].min() for sk in self.skeletons))

    def pick(self, screen: list[np.ndarray], xy: tuple[float, float],
             radius_px: float = 12.0) -> tuple[int, int] | None:
        """The joint nearest to ``xy`` among the skeletons' screen positions (one (J, 2) array
        per skeleton), if within ``radius_px``; it becomes the picked joint."""
        best, found = radius_px, None
        for k, pts in enumerate(screen):
            if len(pts) == 0:
                continue
            d = np.hypot(pts[:, 0] - xy[0], pts[:, 1] - xy[1])
            j = int(np.argmin(d))
            if d[j] <= best:
                best, found = float(d[j]), (k, j)
        self.picked = found
        self._notify("picked")
        return found

    def describe(self) -> str:
        """The picked joint in words, with its error when known."""
        if self.picked is None:
            return "click a joint to read its error"
        k, j = self.picked
        sk = self.skeletons[k]
        name = sk.names[j] if j < len(sk.names) else f"joint {j}"
        text = f"{sk.label}: {name}"
        if sk.errors_mm is not None:
            text += f", error {sk.errors_mm[j]:.1f} mm"
        return text


def sample_skeletons(pred_mm: np.ndarray, truth_mm: np.ndarray | None,
                     bones: list[tuple[int, int]], names: tuple[str, ...],
                     label: str = "prediction") -> list[Skeleton]:
    """A prediction (coloured, with per-joint errors) and its truth (white) overlaid."""
    errors = None if truth_mm is None else np.linalg.norm(pred_mm - truth_mm, axis=-1)
    out = [Skeleton(pred_mm, bones, person_colour(0), label, names, errors)]
    if truth_mm is not None:
        out.append(Skeleton(truth_mm, bones, TRUTH_COLOUR, "ground truth", names))
    return out


def side_by_side(persons_mm: list[np.ndarray], bones: list[tuple[int, int]],
                 names: tuple[str, ...], labels: list[str] | None = None,
                 spacing_m: float = 1.0) -> list[Skeleton]:
    """Root-relative persons placed side by side along x, one colour each."""
    out = []
    for k, joints in enumerate(persons_mm):
        x = (k - (len(persons_mm) - 1) / 2) * spacing_m
        label = labels[k] if labels else f"person {k + 1}"
        out.append(Skeleton(np.asarray(joints, dtype=np.float64), bones, person_colour(k), label,
                            names, offset_m=(x, 0.0, 0.0)))
    return out


def predicted_skeletons(result: dict, bones: list[tuple[int, int]],
                        labels: list[str] | None = None) -> list[Skeleton]:
    """The persons of a ``wsp-core predict --json`` result, side by side."""
    persons = [np.asarray(p["joints_mm"]) for p in result["persons"]]
    return side_by_side(persons, bones, tuple(result["joints"]), labels)
