"""The scale S of a person (eq. 13 of the paper) and the scale gap ΔS (eq. 14).

S is the image length of the head, ``||head_top − neck||`` in pixels, where ``neck`` is the
upper neck / head bottom of the source (MPII upper_neck, CrowdPose neck, PoseTrack head_bottom,
Human3.6M neck_base). COCO labels neither joint, so S is estimated by the **COCO proxy**: each of
four body segments that is labelled gives an estimate ``length / ratio``, where ``ratio`` is the
segment's typical length in head lengths (anthropometric tables: head ≈ 0.13 of body height),
and S is the median of the estimates. The median makes one foreshortened segment (a bent torso, a
leg pointing at the camera) harmless. The same proxy serves any person of any source whose
head top or neck is not labelled. See docs/FORMATS.md for the measured agreement.
"""

from __future__ import annotations

import numpy as np

from .joints import J

SCALE_NONE, SCALE_HEAD, SCALE_PROXY = 0, 1, 2
SCALE_KINDS = {SCALE_NONE: "none", SCALE_HEAD: "head", SCALE_PROXY: "proxy"}

#: Proxy segments: (from joint(s), to joint(s), length in head lengths). A pair of joints means
#: their middle. The ratios start from adult body-segment proportions (nose–shoulder line ≈ 0.10 H,
#: shoulder line–hip line ≈ 0.30 H, thigh ≈ 0.245 H against a head of ≈ 0.13 H) and are divided
#: by one factor, 1.3, so that the proxy matches the annotated head length of the real MPII and
#: CrowdPose samples (median proxy/head was 0.765 before; docs/adr/0001-coco-scale-proxy.md).
PROXY_SEGMENTS: tuple[tuple[tuple[str, ...], tuple[str, ...], float], ...] = (
    (("nose",), ("l_shoulder", "r_shoulder"), 0.62),
    (("l_shoulder", "r_shoulder"), ("l_hip", "r_hip"), 1.77),
    (("l_hip",), ("l_knee",), 1.46),
    (("r_hip",), ("r_knee",), 1.46),
)


def _point(kp: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(P, 2) position and (P,) labelled flag of a joint or of the middle of two joints."""
    first = kp[:, J[names[0]]]
    if len(names) == 1:
        return first[:, :2], first[:, 2] > 0
    second = kp[:, J[names[1]]]
    return (first[:, :2] + second[:, :2]) / 2.0, (first[:, 2] > 0) & (second[:, 2] > 0)


def head_length(kp: np.ndarray) -> np.ndarray:
    """||head_top − neck|| per person; NaN where not labelled.

    Like every function here, it takes the compact (P, K, 3) array of
    :func:`~wsp_core.perspective.joints.perspective_joints`.
    """
    top, top_ok = _point(kp, ("head_top",))
    neck, neck_ok = _point(kp, ("neck",))
    length = np.linalg.norm(top - neck, axis=-1)
    return np.where(top_ok & neck_ok & (length > 0), length, np.nan)


def proxy_head_length(kp: np.ndarray) -> np.ndarray:
    """The COCO proxy of the head length: median of the labelled segments' estimates; NaN if none."""
    estimates = np.full((kp.shape[0], len(PROXY_SEGMENTS)), np.nan)
    for k, (first, second, ratio) in enumerate(PROXY_SEGMENTS):
        a, a_ok = _point(kp, first)
        b, b_ok = _point(kp, second)
        length = np.linalg.norm(a - b, axis=-1)
        estimates[:, k] = np.where(a_ok & b_ok & (length > 0), length / ratio, np.nan)
    return nan_median(estimates)


def nan_median(values: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row); for few columns, much faster
    than np.nanmedian: NaN sorts last, so the valid values are each row's first ``n``."""
    ordered = np.sort(values, axis=1)
    n = (~np.isnan(values)).sum(axis=1)
    lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[:, None], 1)[:, 0]
    hi = np.take_along_axis(ordered, np.maximum(n // 2, 0)[:, None] - (n == 0)[:, None], 1)[:, 0]
    return np.where(n > 0, (lo + hi) / 2.0, np.nan)


def person_scale(kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S per person and how it was obtained (SCALE_HEAD, SCALE_PROXY or SCALE_NONE).

    The head length where head top and neck are labelled, else the proxy, else NaN.
    """
    head = head_length(kp)
    proxy = proxy_head_length(kp)
    scale = np.where(np.isnan(head), proxy, head)
    kind = np.where(~np.isnan(head), SCALE_HEAD, np.where(~np.isnan(proxy), SCALE_PROXY, SCALE_NONE))
    return scale, kind.astype(np.int8)


def scale_gap(s_a: np.ndarray, s_b: np.ndarray) -> np.ndarray:
    """ΔS = |S_a − S_b| / max(S_a, S_b) (eq. 14), in [0, 1]; NaN where either S is unknown."""
    s_a, s_b = np.asarray(s_a, dtype=np.float64), np.asarray(s_b, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(s_a - s_b) / np.maximum(s_a, s_b)
