"""OpenCV rendering of a scene: sky, a tiled ground in perspective, steps and stools, people as
shaded capsules with head ellipses, painted far to near, then blur and noise.

Besides the picture it draws an id buffer (which person, or an occluder, covers each pixel), from
which each joint's visibility follows: 2 visible, 1 hidden behind a nearer person or object,
0 outside the image (COCO's convention).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..skeleton import CANONICAL_INDEX as C
from .scene import Camera, Person, Scene

BACKGROUND, OCCLUDER = -1, -2
_SHOE = (40, 40, 45)

#: (from, to, radius in metres, colour part); heads and torsos are drawn separately.
BONES = (
    ("r_hip", "r_knee", 0.075, "trousers"), ("r_knee", "r_ankle", 0.058, "trousers"),
    ("l_hip", "l_knee", 0.075, "trousers"), ("l_knee", "l_ankle", 0.058, "trousers"),
    ("r_ankle", "r_toe", 0.045, "shoe"), ("l_ankle", "l_toe", 0.045, "shoe"),
    ("r_shoulder", "r_elbow", 0.05, "shirt"), ("r_elbow", "r_wrist", 0.04, "shirt"),
    ("l_shoulder", "l_elbow", 0.05, "shirt"), ("l_elbow", "l_wrist", 0.04, "shirt"),
    ("r_wrist", "r_hand", 0.038, "skin"), ("l_wrist", "l_hand", 0.038, "skin"),
    ("thorax", "neck", 0.055, "skin"), ("pelvis", "thorax", 0.13, "shirt"),
)


def render(scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The BGR image (H, W, 3) uint8 and the id buffer (H, W) int16 of a scene."""
    cam = scene.camera
    image = _background(scene)
    ids = np.full((cam.height, cam.width), BACKGROUND, dtype=np.int16)
    items = []  # (depth, draw function)
    for k, person in enumerate(scene.persons):
        items.append((person.depth, lambda k=k, person=person: _draw_person(image, ids, cam, person, k)))
        if person.elevation > 0:
            items.append((person.depth + 0.05, lambda person=person: _draw_box(
                image, ids, cam, person.position[:2], 0.9, 0.0, person.elevation, (150, 150, 155))))
        if person.pose == "sitting":
            seat = person.joints_world[C["pelvis"], 2] - 0.08
            items.append((person.depth + 0.02, lambda person=person, seat=seat: _draw_box(
                image, ids, cam, person.joints_world[C["pelvis"], :2], 0.4,
                person.elevation, seat, (60, 90, 120))))
    for _, draw in sorted(items, key=lambda item: -item[0]):
        draw()
    sigma = float(rng.uniform(0.4, 0.9))
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(2, 5))
    return np.clip(image + noise, 0, 255).astype(np.uint8), ids


def joint_visibility(person: Person, ids: np.ndarray, index: int) -> np.ndarray:
    """(J,) visibility of a person's joints from the id buffer: 2, 1 (occluded) or 0 (outside)."""
    h, w = ids.shape
    xy = person.joints_img
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1) & \
        (person.joints_cam[:, 2] > 0.1)
    uv = np.round(np.nan_to_num(xy)).astype(int)
    vis = np.zeros(len(uv), dtype=np.int64)
    owner = ids[np.clip(uv[:, 1], 0, h - 1), np.clip(uv[:, 0], 0, w - 1)]
    hidden = (owner != index) & (owner != BACKGROUND)
    vis[inside] = np.where(hidden[inside], 1, 2)
    return vis


_TONES = np.array([0.80, 0.86, 0.90, 0.94, 0.83, 0.97, 0.88, 0.92], dtype=np.float32)
_GROUND_HALF_WIDTH_M, _GROUND_DEPTH_M, _TEX_PX_PER_TILE, _HAZE_M = 60.0, 90.0, 8, 60.0


def _background(scene: Scene) -> np.ndarray:
    """Sky above the horizon, a tiled ground plane below it, fading into haze with distance.

    The ground is a texture in ground coordinates (tiles of random tone, haze baked in by the
    distance to the camera) warped into the image by the pixel→ground homography; the sky is a
    gradient by elevation computed on a coarse grid.
    """
    cam = scene.camera
    k_inv = np.array([[1 / cam.f[0], 0, -cam.c[0] / cam.f[0]],
                      [0, 1 / cam.f[1], -cam.c[1] / cam.f[1]], [0, 0, 1]])
    rays = cam.rotation.T @ k_inv                # pixel (u, v, 1) -> world ray direction
    sky = np.array(scene.sky_colour, dtype=np.float32)
    haze_colour = sky * np.float32(0.8)
    ground_img = cv2.warpPerspective(_ground_texture(scene, haze_colour),
                                     _pixel_to_texture(scene, rays),
                                     (cam.width, cam.height),
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT,
                                     borderValue=tuple(float(v) for v in haze_colour))
    u = np.arange(cam.width, dtype=np.float32)[None] + 0.5
    v = np.arange(cam.height, dtype=np.float32)[:, None] + 0.5
    ray_z = rays[2, 0] * u + rays[2, 1] * v + rays[2, 2]
    sky_img = _sky(cam, rays, sky)
    return np.where((ray_z < 0)[..., None], ground_img, sky_img)


def _ground_texture(scene: Scene, haze_colour: np.ndarray) -> np.ndarray:
    cam = scene.camera
    nx = int(2 * _GROUND_HALF_WIDTH_M / scene.tile_m)
    ny = int(_GROUND_DEPTH_M / scene.tile_m)
    tx, ty = np.arange(nx)[None], np.arange(ny)[:, None]
    tone = _TONES[(tx * 7 + ty * 13) % len(_TONES)] + np.float32(0.08) * ((tx + ty) % 2)
    centre_x = (tx + 0.5) * scene.tile_m - _GROUND_HALF_WIDTH_M - cam.position[0]
    centre_y = (ty + 0.5) * scene.tile_m - cam.position[1]
    dist = np.sqrt(centre_x ** 2 + centre_y ** 2 + cam.position[2] ** 2).astype(np.float32)
    haze = np.clip(dist / _HAZE_M, 0, 1)[..., None]  # per tile: tiles that haze are small
    small = np.array(scene.ground_colour, dtype=np.float32) * tone[..., None] * (1 - haze) \
        + haze_colour * haze
    small = np.clip(small, 0, 255).astype(np.uint8)
    return cv2.resize(small, (nx * _TEX_PX_PER_TILE, ny * _TEX_PX_PER_TILE),
                      interpolation=cv2.INTER_NEAREST)


def _pixel_to_texture(scene: Scene, rays: np.ndarray) -> np.ndarray:
    """Homography from image pixels to ground-texture pixels."""
    cam = scene.camera
    h = cam.position[2]
    ground = np.stack([cam.position[0] * rays[2] - h * rays[0],
                       cam.position[1] * rays[2] - h * rays[1], rays[2]])
    s = _TEX_PX_PER_TILE / scene.tile_m
    to_tex = np.array([[s, 0, _GROUND_HALF_WIDTH_M * s], [0, s, 0], [0, 0, 1]])
    return to_tex @ ground


def _sky(cam: Camera, rays: np.ndarray, sky: np.ndarray) -> np.ndarray:
    step = 8
    u = np.arange(0, cam.width + step, step, dtype=np.float32)[None]
    v = np.arange(0, cam.height + step, step, dtype=np.float32)[:, None]
    d = [rays[i, 0] * u + rays[i, 1] * v + rays[i, 2] for i in range(3)]
    elevation = np.clip(d[2] / np.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2), 0, 1)[..., None]
    coarse = sky * (1 - 0.35 * elevation) + np.float32(25.5) * (1 - elevation) * \
        np.array([1.0, 0.92, 0.84], dtype=np.float32)
    full = cv2.resize(coarse, (u.shape[1] * step, v.shape[0] * step), interpolation=cv2.INTER_LINEAR)
    return np.clip(full[:cam.height, :cam.width], 0, 255).astype(np.uint8)


def _shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(c * factor))) for c in colour)


def _draw_person(image: np.ndarray, ids: np.ndarray, cam: Camera, person: Person, index: int) -> None:
    s = person.subject
    colours = {"trousers": s.trousers, "shirt": s.shirt, "skin": s.skin, "shoe": _SHOE}
    z = person.joints_cam[:, 2]
    if (z <= 0.1).any():
        return
    uv = person.joints_img
    f = cam.f[0]
    parts = []
    for a, b, radius, part in BONES:
        depth = (z[C[a]] + z[C[b]]) / 2
        parts.append((depth, "bone", (C[a], C[b], radius, colours[part])))
    parts.append((z[C["thorax"]] + 0.01, "torso", None))
    parts.append((z[C["head"]] - 0.01, "head", None))
    if _chest_faces_camera(person):  # over the torso's capsule, under whatever is nearer
        parts.append(((z[C["pelvis"]] + z[C["thorax"]]) / 2 - 0.001, "neckline", None))
    for depth, kind, arg in sorted(parts, key=lambda p: -p[0]):
        if kind == "bone":
            a, b, radius, colour = arg
            thickness = max(1, int(round(2 * f * radius / depth)))
            pa, pb = _pt(uv[a]), _pt(uv[b])
            cv2.line(image, pa, pb, _shade(colour, 0.7), thickness, cv2.LINE_AA)
            if thickness >= 4:
                off = (-thickness // 6, -thickness // 6)
                cv2.line(image, _add(pa, off), _add(pb, off), colour, max(1, thickness // 2), cv2.LINE_AA)
            cv2.line(ids, pa, pb, index, thickness)
        elif kind == "torso":
            quad = np.array([uv[C["r_shoulder"]], uv[C["l_shoulder"]], uv[C["l_hip"]],
                             uv[C["r_hip"]]])
            pts = np.round(quad * 16).astype(np.int32)
            cv2.fillConvexPoly(image, pts, _shade(s.shirt, 0.85), cv2.LINE_AA, 4)
            cv2.fillConvexPoly(ids, np.round(quad).astype(np.int32), index)
        elif kind == "neckline":
            _draw_neckline(image, person)
        else:
            _draw_head(image, ids, cam, person, index)


def _chest_faces_camera(person: Person) -> bool:
    """Whether the front of the torso turns towards the camera: its forward normal, up × right
    (body frame: x right, y forward, z up), has a negative camera-frame z."""
    j = person.joints_cam
    right = j[C["r_shoulder"]] - j[C["l_shoulder"]]
    up = j[C["thorax"]] - j[C["pelvis"]]
    return float(np.cross(up, right)[2]) < 0


def _draw_neckline(image, person: Person) -> None:
    """A V neckline in skin colour on the chest: the front of a shirt differs from its back, as
    it does in photographs, so a picture tells which way a person faces."""
    uv = person.joints_img
    thorax, spine = uv[C["thorax"]], uv[C["spine"]]
    left = thorax + 0.3 * (uv[C["l_shoulder"]] - thorax)
    right = thorax + 0.3 * (uv[C["r_shoulder"]] - thorax)
    tip = thorax + 0.25 * (spine - thorax)
    pts = np.round(np.array([left, right, tip]) * 16).astype(np.int32)
    cv2.fillConvexPoly(image, pts, person.subject.skin, cv2.LINE_AA, 4)


def _draw_head(image, ids, cam: Camera, person: Person, index: int) -> None:
    """The head: an ellipse of hair with the face where it turns towards the camera.

    The face is a skin ellipse around the projection of a point in front of the head centre
    (along the nose), so it sits in the middle of a head seen from the front, at its side in
    profile, and is hidden behind the hair of a head seen from the back; eyes are drawn on a
    face turned towards the camera when the head is big enough to show them. Real photographs tell a
    person's facing by the face; without it left and right could not be told apart."""
    s = person.subject
    centre = person.joints_img[C["head"]]
    top = person.joints_img[C["head_top"]]
    z = person.joints_cam[C["head"], 2]
    r = cam.f[0] * 0.075 * s.height / 1.75 / z
    axis = top - centre
    angle = float(np.degrees(np.arctan2(axis[1], axis[0]))) + 90
    rx, ry = max(1, int(round(r * 0.85))), max(1, int(round(max(r, np.hypot(*axis)) * 1.05)))
    c = _pt(centre)
    cv2.ellipse(image, c, (rx, ry), angle, 0, 360, s.hair, -1, cv2.LINE_AA)
    cv2.ellipse(ids, c, (rx, ry), angle, 0, 360, index, -1)
    head, nose = person.joints_cam[C["head"]], person.joints_cam[C["nose"]]
    forward = (nose - head) / max(float(np.linalg.norm(nose - head)), 1e-9)
    if forward[2] > 0.35:  # the face looks away: the back of the head is all hair
        return
    face = _towards(centre, cam.project(head + forward * 0.045 * s.height), 0.35 * min(rx, ry))
    fx, fy = max(1, int(round(rx * 0.72))), max(1, int(round(ry * 0.62)))
    cv2.ellipse(image, _pt(face + 0.2 * ry * (centre - top) / max(np.hypot(*axis), 1e-9)),
                (fx, fy), angle, 0, 360, s.skin, -1, cv2.LINE_AA)
    if r < 4 or forward[2] > -0.5:  # eyes on a face turned towards the camera, big enough
        return
    for eye in ("l_eye", "r_eye"):
        cv2.circle(image, _pt(_towards(centre, person.joints_img[C[eye]], 0.6 * rx)),
                   max(1, int(round(r * 0.12))),
                   (30, 30, 35), -1, cv2.LINE_AA)


def _towards(centre: np.ndarray, point: np.ndarray, reach: float) -> np.ndarray:
    """``point`` pulled towards ``centre`` to at most ``reach`` pixels from it (a face and its
    eyes stay on the drawn head)."""
    shift = point - centre
    return centre + shift * min(1.0, reach / max(float(np.hypot(*shift)), 1e-9))


def _draw_box(image, ids, cam: Camera, centre_xy, size: float, z0: float, z1: float, colour) -> None:
    """A box (step, stage, stool) of square footprint ``size`` from height z0 to z1."""
    if z1 <= z0:
        return
    x, y = centre_xy
    h = size / 2
    corners = np.array([[x + dx, y + dy, zz] for zz in (z0, z1) for dx, dy in
                        ((-h, -h), (h, -h), (h, h), (-h, h))])
    cam_pts = cam.to_camera(corners)
    if (cam_pts[:, 2] <= 0.1).any():
        return
    px = cam.project(cam_pts)
    faces = [((0, 1, 5, 4), 0.8), ((1, 2, 6, 5), 0.65), ((2, 3, 7, 6), 0.6), ((3, 0, 4, 7), 0.7),
             ((4, 5, 6, 7), 1.0)]
    order = sorted(faces, key=lambda fc: -cam_pts[list(fc[0]), 2].mean())
    for face, light in order:
        poly = np.round(px[list(face)]).astype(np.int32)
        cv2.fillConvexPoly(image, poly, _shade(colour, light), cv2.LINE_AA)
        cv2.fillConvexPoly(ids, poly, OCCLUDER)


def _pt(p) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _add(p, d) -> tuple[int, int]:
    return p[0] + d[0], p[1] + d[1]
