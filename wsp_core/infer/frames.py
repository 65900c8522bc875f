"""The frames ``wsp-core predict`` and the Photo tab step through: one image, the images of a
folder (sorted by name), or the frames of a video (OpenCV's decoder), each with its name — the
file's name, or ``VIDEO#N`` for frame N (from 0) of a video — and, for EXIF, its file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass
class Frame:
    name: str                  # the image's file name, or VIDEO#N
    index: int                 # from 0, in the order of the folder or video
    image: np.ndarray | None   # BGR; None when it could not be read (``error`` says why)
    path: Path | None = None   # the image file (None for a video frame)
    error: str | None = None


def kind_of(path: Path) -> str:
    """image, folder or video; one clear line for anything else."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.is_file():
        raise InputError(path, "no such image, folder or video")
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    raise InputError(path, f"expected an image ({', '.join(IMAGE_SUFFIXES)}), a folder of them "
                           f"or a video ({', '.join(VIDEO_SUFFIXES)})")


def folder_images(path: Path) -> list[Path]:
    return sorted(p for p in Path(path).iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def frame_count(path: Path) -> int | None:
    """How many frames ``frames(path)`` yields (a video's container may not know: None)."""
    kind = kind_of(path)
    if kind == "image":
        return 1
    if kind == "folder":
        return len(folder_images(path))
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None


def read_image(path: Path) -> np.ndarray:
    """A BGR image; one clear line naming the file when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(path, "cannot read the image (JPEG or PNG expected)")
    return image


def frames(path: Path) -> Iterator[Frame]:
    """The frames of an image, a folder or a video, in order. In a folder an unreadable image
    is a frame with ``error`` (the others go on); an image or video that cannot be read at all
    raises :class:`InputError`."""
    path = Path(path)
    kind = kind_of(path)
    if kind == "image":
        yield Frame(path.name, 0, read_image(path), path)
    elif kind == "folder":
        for k, file in enumerate(folder_images(path)):
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            yield Frame(file.name, k, image, file,
                        None if image is not None else "cannot read the image")
    else:
        yield from video_frames(path)


def video_frames(path: Path) -> Iterator[Frame]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise InputError(path, "cannot open the video (OpenCV's decoder does not read it)")
    try:
        k = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            yield Frame(f"{path.name}#{k}", k, image)
            k += 1
    finally:
        capture.release()
    if k == 0:
        raise InputError(path, "no frame could be decoded")


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video (the Photo tab's step), by seeking."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(path, "cannot open the video (OpenCV's decoder does not read it)")
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
    finally:
        capture.release()
    if not ok:
        raise InputError(path, f"cannot decode frame {index}")
    return image
