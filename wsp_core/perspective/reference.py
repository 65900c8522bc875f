"""A straightforward per-pair Python loop computing what :func:`label_pairs` computes.

It is the specification in its plainest form: tests check the vectorised code against it, and
``scripts/bench_labels.py`` measures the vectorised code's speed-up over it. Not used by the product.
"""

from __future__ import annotations

import math

from ..skeleton import CANONICAL_INDEX as C
from .cues import HUG_GAP, KNEE_LINE_SHRINK, RAISED_RATIO, SIZE_CONFLICT_RATIO
from .scale import PROXY_SEGMENTS


def _labelled(person, name):
    return person[C[name]][2] > 0


def _mid(person, names):
    xs = [person[C[n]][0] for n in names]
    ys = [person[C[n]][1] for n in names]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def person_scale(person) -> float:
    if _labelled(person, "head_top") and _labelled(person, "neck"):
        (x0, y0), (x1, y1) = _mid(person, ("head_top",)), _mid(person, ("neck",))
        length = math.hypot(x0 - x1, y0 - y1)
        if length > 0:
            return length
    estimates = []
    for first, second, ratio in PROXY_SEGMENTS:
        if all(_labelled(person, n) for n in first + second):
            (x0, y0), (x1, y1) = _mid(person, first), _mid(person, second)
            length = math.hypot(x0 - x1, y0 - y1)
            if length > 0:
                estimates.append(length / ratio)
    if not estimates:
        return math.nan
    estimates.sort()
    n = len(estimates)
    return estimates[n // 2] if n % 2 else (estimates[n // 2 - 1] + estimates[n // 2]) / 2


def _ankle_y(person):
    return (person[C["l_ankle"]][1] + person[C["r_ankle"]][1]) / 2


def _knee_y(person):
    ys = [person[C[k]][1] for k in ("l_knee", "r_knee") if _labelled(person, k)]
    return sum(ys) / len(ys) if ys else math.nan


def _ground_residual(person, others, scales, kp) -> float:
    """log(S / Ŝ) with Ŝ from the least-squares line S = a + b·y through the other persons."""
    points = [(_ankle_y(kp[q]), scales[q]) for q in others
              if not math.isnan(scales[q]) and scales[q] > 0]
    s = scales[person]
    if len(points) < 2 or math.isnan(s) or s <= 0:
        return math.nan
    n = len(points)
    my = sum(y for y, _ in points) / n
    ms = sum(v for _, v in points) / n
    spread = n * sum((y - my) ** 2 for y, _ in points)
    if spread <= 1e-9 * max(n * sum(y * y for y, _ in points), 1.0):
        return math.nan
    slope = n * sum((y - my) * (v - ms) for y, v in points) / spread
    predicted = ms + slope * (_ankle_y(kp[person]) - my)
    if slope <= 0 or predicted <= 0:
        return math.nan
    return math.log(s / predicted)


def _overlap(ba, bb):
    iw = max(0.0, min(ba[0] + ba[2], bb[0] + bb[2]) - max(ba[0], bb[0]))
    ih = max(0.0, min(ba[1] + ba[3], bb[1] + bb[3]) - max(ba[1], bb[1]))
    smaller = min(ba[2] * ba[3], bb[2] * bb[3])
    return iw * ih / smaller if smaller > 0 else 0.0


def label_pairs_loop(kp, person_image, bbox, image_height) -> list[dict]:
    """kp: canonical keypoints as nested lists (P × J × 3); returns one dict per pair."""
    by_image: dict[int, list[int]] = {}
    for p, person in enumerate(kp):
        if _labelled(person, "l_ankle") and _labelled(person, "r_ankle"):
            by_image.setdefault(int(person_image[p]), []).append(p)
    scales = {}
    rows = []
    for image, members in by_image.items():
        for p in members:
            scales[p] = person_scale(kp[p])
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                a, b = members[i], members[j]
                for p in (a, b):
                    if p not in scales:
                        scales[p] = person_scale(kp[p])
                ya, yb = _ankle_y(kp[a]), _ankle_y(kp[b])
                label = 1 if ya >= yb else 0
                gap = abs(ya - yb)
                near, far = (a, b) if label else (b, a)
                s_a, s_b, s_near, s_far = scales[a], scales[b], scales[near], scales[far]
                height = (bbox[a][3] + bbox[b][3]) / 2
                closeness = math.exp(-gap / (HUG_GAP * height)) if height > 0 else 0.0
                hug = _overlap(bbox[a], bbox[b]) * closeness
                if math.isnan(s_near) or math.isnan(s_far) or s_near <= 0:
                    size = 0.0
                else:
                    size = min(1.0, max(0.0, math.log(s_far / s_near) / math.log(SIZE_CONFLICT_RATIO)))
                shin = _ankle_y(kp[near]) - _knee_y(kp[near])
                knee = 0.0
                if shin > 0 and not (math.isnan(s_near) or math.isnan(s_far)) and s_near > 0:
                    above = min(1.0, max(0.0, (_ankle_y(kp[near]) - _ankle_y(kp[far])) / shin - 1))
                    shrink = min(1.0, max(0.0, (s_near - s_far) / s_near / KNEE_LINE_SHRINK))
                    knee = above * (1 - shrink)
                residual = _ground_residual(far, [q for q in members if q != far], scales, kp)
                raised = 0.0 if math.isnan(residual) else \
                    min(1.0, max(0.0, residual / math.log(RAISED_RATIO)))
                h = image_height[image]
                ds = abs(s_a - s_b) / max(s_a, s_b) if not (math.isnan(s_a) or math.isnan(s_b)) else math.nan
                rows.append({"a": a, "b": b, "label": label, "margin_px": gap,
                             "margin_rel": gap / h if h > 0 else math.nan, "delta_s": ds,
                             "hug": hug, "size_conflict": size, "knee_line": knee, "raised_ground": raised,
                             "suspicion": max(hug, size, knee)})
    rows.sort(key=lambda r: (r["a"], r["b"]))
    return rows
