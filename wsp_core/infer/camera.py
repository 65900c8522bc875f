"""The camera of a photo nobody calibrated: its focal length (EXIF when the photo has it, else a
stated default) and each person's root depth estimated from its box, as RootNet's prior does.

RootNet (Moon et al. 2019) takes a person to span 2000 × 2000 mm in the world; a box of A px²
seen with focal lengths fx, fy is then at k = sqrt(fx · fy · 2000² / A) mm. With square crops
(3DMPPE's 1.25 × box, :func:`~wsp_core.infer.crops.person_square`) this is f · 2000 / side. It is
an estimate: a child, a sitting person or a cut-off box is placed too far or too near. Root-
relative joints depend on it only mildly; camera-space joints directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The real-world extent of a person's box in 3DMPPE and RootNet (mm).
BOX_3D_MM = 2000.0
#: A 35 mm film frame's longer side (mm): a 35 mm-equivalent focal length f35 is f35 / 36 of the
#: image's longer side, in pixels.
FULL_FRAME_MM = 36.0
#: EXIF tags (the Exif sub-IFD 0x8769).
EXIF_IFD, FOCAL_35MM, FOCAL_MM, PLANE_X_RES, PLANE_UNIT, EXIF_WIDTH = \
    0x8769, 0xA405, 0x920A, 0xA20E, 0xA210, 0xA002
#: FocalPlaneResolutionUnit → mm per unit (2 inch, 3 cm, 4 mm, 5 µm).
UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}


@dataclass(frozen=True)
class Focal:
    """A focal length in pixels and where it came from (said in every prediction's output)."""

    px: float
    source: str


def default_focal(width: int, height: int) -> Focal:
    """No EXIF: the image's longer side (a 36 mm lens on a full frame, ≈ 53° across)."""
    return Focal(float(max(width, height)), "default: the image's longer side (a 36 mm-equivalent "
                                            "lens)")


def exif_focal(path: Path, width: int, height: int) -> Focal | None:
    """The focal length an image's EXIF gives, in pixels of the image as stored: the 35 mm-
    equivalent focal length when present, else the focal length in mm with the focal plane's
    resolution (scaled when the image was resized since). None without either."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            ifd = img.getexif().get_ifd(EXIF_IFD)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return None
    longer = float(max(width, height))
    f35 = _number(ifd.get(FOCAL_35MM))
    if f35:
        return Focal(f35 / FULL_FRAME_MM * longer, f"EXIF: {f35:g} mm 35 mm-equivalent")
    f_mm, res, unit = _number(ifd.get(FOCAL_MM)), _number(ifd.get(PLANE_X_RES)), \
        UNIT_MM.get(int(_number(ifd.get(PLANE_UNIT)) or 2))
    if f_mm and res and unit:
        px = f_mm * res / unit
        shot_width = _number(ifd.get(EXIF_WIDTH))
        if shot_width:
            px *= width / shot_width
        return Focal(px, f"EXIF: {f_mm:g} mm at {res:g} px per focal-plane unit")
    return None


def photo_focal(path: Path | None, width: int, height: int, given: float | None = None) -> Focal:
    """The focal length to predict with: ``given`` (``--focal``) first, then EXIF, then the
    default."""
    if given is not None:
        return Focal(float(given), "given")
    found = exif_focal(path, width, height) if path is not None else None
    return found or default_focal(width, height)


def root_depth_mm(side_px: float, focal_px: float) -> float:
    """RootNet's prior: the depth (mm) at which a 2000 mm person fills a square of ``side_px``."""
    return focal_px * BOX_3D_MM / max(side_px, 1.0)


def _number(value) -> float | None:
    """An EXIF rational or number as a positive float (None when absent, zero or malformed)."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number > 0 and number == number else None
