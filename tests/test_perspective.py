import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest import sample
from wsp_core.formats import read_source
from wsp_core.perspective import (box_overlap, enumerate_pairs, ground_line_residual, hug_score,
                                  knee_line, label_pairs, person_scale, perspective_joints,
                                  raised_ground, scale_gap, size_conflict)
from wsp_core.perspective.scale import head_length, nan_median, proxy_head_length
from wsp_core.perspective.reference import label_pairs_loop
from wsp_core.perspective.scale import SCALE_HEAD, SCALE_PROXY
from wsp_core.skeleton import CANONICAL, CANONICAL_INDEX as C, CANONICAL_SET


def labelled_sample(fmt, ann):
    data = read_source(fmt, sample(fmt, ann), sample(fmt))
    measures, pairs = label_pairs(data.keypoints, data.joint_set, data.person_image, data.bbox,
                                  data.image_size[:, 1])
    return data, measures, pairs


def test_coco_sample_pairs_and_labels_by_hand():
    data, m, t = labelled_sample("coco", "test_coco.json")
    images = [data.image_keys[data.person_image[a]] for a in t.a]
    assert images.count("196141") == 6 and images.count("197388") == 6 and len(t) == 12
    # image 196141: mean ankle y of its four MCPC persons, in file order
    ankle = {"P1": (327 + 349) / 2, "P2": (222 + 219) / 2, "P4": (394 + 391) / 2,
             "P5": (160 + 159) / 2}
    expected = [int(ankle[a] > ankle[b]) for a, b in
                [("P1", "P2"), ("P1", "P4"), ("P1", "P5"), ("P2", "P4"), ("P2", "P5"), ("P4", "P5")]]
    assert t.label[:6].tolist() == expected == [1, 0, 1, 0, 1, 1]
    assert t.margin_px[0] == pytest.approx(338 - 220.5)
    assert t.margin_rel[0] == pytest.approx((338 - 220.5) / 429)


def test_coco_proxy_scale_by_hand():
    data, m, _ = labelled_sample("coco", "test_coco.json")
    first = int(np.flatnonzero(data.person_image == data.image_keys.index("196141"))[0])
    # nose (297,111); shoulders (329,141) (346,125); hips (329,225) (331,221);
    # knees (327,298) (283,269): four segment estimates, median of them
    estimates = sorted([math.hypot(297 - 337.5, 111 - 133) / 0.62,
                        math.hypot(337.5 - 330, 133 - 223) / 1.77,
                        math.hypot(329 - 327, 225 - 298) / 1.46,
                        math.hypot(331 - 283, 221 - 269) / 1.46])
    assert m.scale[first] == pytest.approx((estimates[1] + estimates[2]) / 2)
    assert m.scale_kind[first] == SCALE_PROXY


def test_crowdpose_sample_one_pair_by_hand():
    data, m, t = labelled_sample("crowdpose", "test_crowdpose.json")
    assert len(t) == 1 and data.image_keys[data.person_image[t.a[0]]] == "103319"
    s_a = math.hypot(351 - 364, 163 - 198)       # head (351,163), neck (364,198)
    s_b = math.hypot(312 - 323, 106 - 137)       # head (312,106), neck (323,137)
    assert t.label[0] == 1                       # ankle y 399 > 345: a is closer
    assert t.margin_px[0] == pytest.approx((390 + 408) / 2 - (346 + 344) / 2)
    assert t.delta_s[0] == pytest.approx((s_a - s_b) / s_a)
    assert m.scale_kind[t.a[0]] == SCALE_HEAD


def test_proxy_tracks_the_annotated_head_length_on_real_persons():
    """MPII and CrowdPose label head top and neck *and* the proxy's segments: compare."""
    ratios = []
    for fmt, ann in (("mpii", "test_mpii.json"), ("crowdpose", "test_crowdpose.json")):
        data = read_source(fmt, sample(fmt, ann), sample(fmt))
        joints = perspective_joints(data.keypoints, data.joint_set)
        both = ~np.isnan(head_length(joints)) & ~np.isnan(proxy_head_length(joints))
        ratios += (proxy_head_length(joints)[both] / head_length(joints)[both]).tolist()
    assert len(ratios) == 8
    assert 0.9 < np.median(ratios) < 1.1
    assert 0.6 < min(ratios) and max(ratios) < 1.25


def test_mpii_single_person_sample_makes_no_pair():
    _, m, t = labelled_sample("mpii", "test_mpii.json")
    assert len(t) == 0
    assert m.mcpc.sum() == 3   # three of five persons have both ankles, each alone in its image


def test_enumerate_pairs_all_pairs_within_images_only():
    person_image = np.array([0, 1, 0, 2, 0, 1, 3, 3, 3, 3])
    selected = np.array([1, 1, 1, 1, 1, 1, 1, 0, 1, 1], dtype=bool)
    a, b = enumerate_pairs(person_image, selected)
    got = set(zip(a.tolist(), b.tolist()))
    assert got == {(0, 2), (0, 4), (2, 4), (1, 5), (6, 8), (6, 9), (8, 9)}
    assert (a < b).all()


def test_tie_follows_eq7_and_equal_scales_give_zero_gap():
    """The paper's eq. 7: y_A >= y_B (ankles) means Z_A <= Z_B, so an equal height labels 1."""
    kp = np.zeros((2, len(CANONICAL), 3))
    for p in range(2):
        kp[p, C["l_ankle"]] = (10 + p, 200, 2)
        kp[p, C["r_ankle"]] = (20 + p, 200, 2)
        kp[p, C["head_top"]] = (15, 100, 2)
        kp[p, C["neck"]] = (15, 120, 2)
    _, t = label_pairs(kp, CANONICAL_SET, np.zeros(2, dtype=int), np.array([[0, 0, 10, 10]] * 2, float),
                       np.array([480.0]))
    assert t.label.tolist() == [1] and t.delta_s.tolist() == [0.0]


def test_nan_median_matches_numpy():
    rows = np.array([[1, 5, np.nan, 3], [np.nan] * 4, [2, np.nan, np.nan, np.nan], [4, 1, 3, 2.0]])
    got = nan_median(rows)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], [3, 2, 2.5])


def test_scale_gap_formula():
    np.testing.assert_allclose(scale_gap(np.array([10.0, 30.0]), np.array([40.0, 30.0])), [0.75, 0])
    assert np.isnan(scale_gap(np.array([np.nan]), np.array([3.0]))[0])


def test_box_overlap_and_hug_score_by_hand():
    a = np.array([[0.0, 0.0, 10.0, 20.0]])
    b = np.array([[5.0, 0.0, 10.0, 20.0]])
    assert box_overlap(a, b)[0] == pytest.approx(0.5)
    assert hug_score(a, b, np.array([0.0]))[0] == pytest.approx(0.5)
    assert hug_score(a, b, np.array([1.0]))[0] == pytest.approx(0.5 * math.exp(-1.0))
    far = np.array([[100.0, 0.0, 10.0, 20.0]])
    assert hug_score(a, far, np.array([0.0]))[0] == 0.0


def test_size_conflict_by_hand():
    got = size_conflict(np.array([20.0, 20.0, 20.0, 20.0, np.nan]),
                        np.array([10.0, 20.0, 30.0, 20 * 1.5 ** 0.5, 5.0]))
    np.testing.assert_allclose(got, [0, 0, 1, 0.5, 0])


def test_knee_line_by_hand():
    # near person: knee y 300, ankle y 400 (shin 100 px); far ankles at 150 -> t = 2.5 -> above 1
    same_size = knee_line(np.array([300.0]), np.array([400.0]), np.array([150.0]),
                          np.array([20.0]), np.array([20.0]))
    assert same_size[0] == pytest.approx(1.0)
    half_size = knee_line(np.array([300.0]), np.array([400.0]), np.array([150.0]),
                          np.array([20.0]), np.array([10.0]))
    assert half_size[0] == pytest.approx(0.0)
    # far ankles at 250: t = 1.5, above = 0.5; far 20% smaller: shrink 0.4 -> 0.5 * 0.6
    partly = knee_line(np.array([300.0]), np.array([400.0]), np.array([250.0]),
                       np.array([20.0]), np.array([16.0]))
    assert partly[0] == pytest.approx(0.3)
    no_knee = knee_line(np.array([np.nan]), np.array([400.0]), np.array([150.0]),
                        np.array([20.0]), np.array([20.0]))
    assert no_knee[0] == 0.0


def _standing(x: float, ankle_y: float, head: float) -> np.ndarray:
    """A canonical person with both ankles at ``ankle_y`` and head length (S) ``head``."""
    kp = np.zeros((len(CANONICAL), 3))
    kp[C["head_top"]] = (x, ankle_y - 8 * head, 2)
    kp[C["neck"]] = (x, ankle_y - 7 * head, 2)
    kp[C["l_ankle"]] = (x - 5, ankle_y, 2)
    kp[C["r_ankle"]] = (x + 5, ankle_y, 2)
    return kp


def test_ground_line_and_raised_ground_by_hand():
    # three persons on the floor of one image: S = 0.1 · (y − 100) (horizon at y = 100);
    # a fourth stands on a stage: its feet at y = 250, where the floor predicts S = 15, yet S = 22.5
    ys, heads = [200.0, 300.0, 400.0, 250.0], [10.0, 20.0, 30.0, 22.5]
    residual = ground_line_residual(np.zeros(4, np.int64), np.array(ys), np.array(heads))
    assert residual[3] == pytest.approx(math.log(1.5))          # 1.5 times the line's size
    assert raised_ground(residual[3:])[0] == pytest.approx(math.log(1.5) / math.log(2))
    assert raised_ground(np.array([math.log(2.5), -0.3, np.nan])) == pytest.approx([1, 0, 0])
    # two persons: no line from "the others"; slopes that are not perspective: unknown
    assert np.isnan(ground_line_residual(np.zeros(2, np.int64), np.array(ys[:2]),
                                         np.array(heads[:2]))).all()
    upside = ground_line_residual(np.zeros(3, np.int64), np.array(ys[:3]), np.array(heads[::-1][1:]))
    assert np.isnan(upside).all()                               # larger higher up the image
    # through label_pairs: person 1 (floor, feet at 300, S 20) is labelled closer than the
    # stage person 3 (feet at 250), who is really closer (S 22.5): that pair is flagged; pairs
    # whose far person stands on the floor are not
    kp = np.stack([_standing(100 * k, y, h) for k, (y, h) in enumerate(zip(ys, heads))])
    boxes = np.array([[100 * k - 20, y - 9 * h, 40, 9 * h] for k, (y, h) in
                      enumerate(zip(ys, heads))])
    m, t = label_pairs(kp, CANONICAL_SET, np.zeros(4, np.int64), boxes, np.array([500.0]))
    assert m.scale == pytest.approx(heads)
    score = {(int(a), int(b)): r for a, b, r in zip(t.a, t.b, t.raised_ground)}
    assert score[(1, 3)] == score[(2, 3)] == pytest.approx(math.log(1.5) / math.log(2))
    assert score[(0, 3)] == 0.0 and score[(0, 1)] < 0.2 and score[(1, 2)] < 0.2
    assert t.suspicion.tolist() == np.maximum(np.maximum(t.hug, t.size_conflict),
                                              t.knee_line).tolist()  # not in the maximum


def test_person_scale_prefers_head_then_proxy_then_none():
    kp = np.zeros((3, len(CANONICAL), 3))
    kp[0, C["head_top"]] = (0, 0, 2)
    kp[0, C["neck"]] = (3, 4, 2)
    kp[1, C["l_hip"]] = (0, 0, 2)
    kp[1, C["l_knee"]] = (0, 29.2, 2)
    scale, kind = person_scale(perspective_joints(kp, CANONICAL_SET))
    assert scale[0] == 5.0 and scale[1] == pytest.approx(20.0) and np.isnan(scale[2])
    assert kind.tolist() == [1, 2, 0]


@st.composite
def scenes(draw):
    n_images = draw(st.integers(1, 4))
    n = draw(st.integers(0, 12))
    person_image = np.array(draw(st.lists(st.integers(0, n_images - 1), min_size=n, max_size=n)),
                            dtype=np.int64)
    coords = st.floats(0, 500, allow_nan=False).map(lambda v: round(v, 1))
    kp = np.array(draw(st.lists(st.lists(st.tuples(coords, coords, st.sampled_from([0, 1, 2])),
                                         min_size=len(CANONICAL), max_size=len(CANONICAL)),
                                min_size=n, max_size=n)), dtype=float).reshape(n, len(CANONICAL), 3)
    boxes = np.array(draw(st.lists(st.tuples(coords, coords, coords, coords),
                                   min_size=n, max_size=n)), dtype=float).reshape(n, 4)
    heights = np.array(draw(st.lists(st.integers(1, 2000), min_size=n_images, max_size=n_images)),
                       dtype=float)
    return kp, person_image, boxes, heights


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_vectorised_labels_equal_the_per_pair_loop(scene):
    kp, person_image, boxes, heights = scene
    _, t = label_pairs(kp, CANONICAL_SET, person_image, boxes, heights)
    rows = label_pairs_loop(kp.tolist(), person_image.tolist(), boxes.tolist(), heights.tolist())
    assert len(rows) == len(t)
    for k, row in enumerate(rows):
        assert (row["a"], row["b"], row["label"]) == (t.a[k], t.b[k], t.label[k])
        for key in ("margin_px", "margin_rel", "delta_s", "hug", "size_conflict", "knee_line",
                    "raised_ground", "suspicion"):
            assert getattr(t, key)[k] == pytest.approx(row[key], nan_ok=True, abs=1e-9), key


def _coco_person(points: dict[str, tuple[float, float]]) -> np.ndarray:
    """One COCO person (17, 3) with the named joints labelled at the given (x, y)."""
    from wsp_core.skeleton import COCO

    kp = np.zeros((COCO.num_joints, 3))
    for name, (x, y) in points.items():
        kp[COCO.index(name)] = (x, y, 2)
    return kp


def test_pose_hints_of_standing_seated_and_lying_persons_by_hand():
    from wsp_core.perspective import person_pose_hints
    from wsp_core.skeleton import COCO

    # standing, image y down: shoulders at y 100, hips at 160 (torso 60 px), knees 220, ankles 280
    standing = _coco_person({f"{s}_{j}": (x, y) for s, x in (("l", 110), ("r", 90))
                             for j, y in (("shoulder", 100), ("hip", 160), ("knee", 220),
                                          ("ankle", 280))})
    # seated on a chair seen from the side: thighs forward (horizontal), shins down
    seated = _coco_person({f"{s}_{j}": p for s in "lr" for j, p in
                           (("shoulder", (100, 100)), ("hip", (100, 160)), ("knee", (150, 160)),
                            ("ankle", (150, 210)))})
    # lying along the image's x axis, head to the left, one knee labelled bent
    lying = _coco_person({"l_shoulder": (100, 300), "r_shoulder": (100, 300), "l_hip": (160, 300),
                          "r_hip": (160, 300), "l_knee": (220, 300), "l_ankle": (280, 300),
                          "r_knee": (200, 270), "r_ankle": (240, 300)})
    # only the upper body labelled
    upper = _coco_person({"l_shoulder": (100, 100), "r_shoulder": (120, 100),
                          "l_hip": (100, 160), "r_hip": (120, 160)})
    h = person_pose_hints(np.stack([standing, seated, lying, upper]), COCO)
    assert h.knee_angle[:3] == pytest.approx([180.0, 90.0, 180.0])  # the straighter leg
    assert h.hip_angle[:3] == pytest.approx([180.0, 90.0, 180.0])
    assert h.torso_tilt[:4] == pytest.approx([0.0, 0.0, 90.0, 0.0])
    # feet below the hip middle in torso lengths: 120/60, 50/60, 0 (ankle middle at y 300)
    assert h.leg_drop[:3] == pytest.approx([2.0, 50 / 60, 0.0])
    assert math.isnan(h.knee_angle[3]) and math.isnan(h.hip_angle[3]) and math.isnan(h.leg_drop[3])
    assert h.labelled_share == pytest.approx(np.array([8, 8, 8, 4]) / COCO.num_joints)
