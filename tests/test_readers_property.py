"""Property-based tests of the readers: what is written is what is read, and any damage to a
file ends in an InputError (never another exception)."""

import json
from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wsp_core.errors import InputError
from wsp_core.formats import read_source
from wsp_core.perspective import label_pairs
from wsp_core.skeleton import COCO, MPII

SETTINGS = settings(max_examples=int(__import__("os").environ.get("WSP_HYPOTHESIS_EXAMPLES", 80)),
                    deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
coord = st.floats(0, 4000, allow_nan=False).map(lambda v: round(v, 2))
vis = st.sampled_from([0, 1, 2])


@st.composite
def coco_datasets(draw):
    n_images = draw(st.integers(1, 5))
    images = [{"id": 100 + i, "file_name": f"{i}.jpg", "width": draw(st.integers(1, 4000)),
               "height": draw(st.integers(1, 4000))} for i in range(n_images)]
    anns = []
    for k in range(draw(st.integers(0, 15))):
        kp = [v for _ in range(17) for v in (draw(coord), draw(coord), draw(vis))]
        anns.append({"id": 1000 + k, "image_id": 100 + draw(st.integers(0, n_images - 1)),
                     "iscrowd": 0, "bbox": [draw(coord), draw(coord), draw(coord), draw(coord)],
                     "keypoints": kp, "category_id": 1})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(COCO.joints)}]}


@SETTINGS
@given(dataset=coco_datasets())
def test_coco_round_trip_and_pair_count(tmp_path, dataset):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(dataset))
    data = read_source("coco", path, tmp_path)
    anns = dataset["annotations"]
    assert data.num_persons == len(anns) and data.num_images == len(dataset["images"])
    for p, a in enumerate(anns):
        expected = np.array(a["keypoints"], dtype=float).reshape(-1, 3)
        expected[(expected[:, :2] == 0).all(1), 2] = 0     # labelled at (0, 0): a COCO quirk
        np.testing.assert_allclose(data.keypoints[p], expected)
        np.testing.assert_allclose(data.bbox[p], a["bbox"])
        assert data.image_keys[data.person_image[p]] == str(a["image_id"])
    _, pairs = label_pairs(data.keypoints, data.joint_set, data.person_image, data.bbox,
                           data.image_size[:, 1])
    ankles = data.keypoints[:, 15:17, 2].min(axis=1) > 0
    per_image = np.bincount(data.person_image[ankles], minlength=data.num_images)
    assert len(pairs) == sum(comb(int(n), 2) for n in per_image)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8)


@st.composite
def damaged(draw):
    dataset = draw(coco_datasets())
    targets = [("images",), ("annotations",)]
    targets += [("images", i, k) for i in range(len(dataset["images"]))
                for k in ("id", "file_name", "width")]
    targets += [("annotations", i, k) for i in range(len(dataset["annotations"]))
                for k in ("id", "image_id", "keypoints", "bbox", "iscrowd")]
    where = draw(st.sampled_from(targets))
    node = dataset
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = draw(json_values)
    return dataset


@SETTINGS
@given(dataset=damaged())
def test_damaged_coco_files_fail_only_with_input_error(tmp_path, dataset):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(dataset))
    try:
        data = read_source("coco", path, tmp_path)
    except InputError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
        return
    assert np.isfinite(data.keypoints).all()      # the store gets valid JSON
    # the damaged annotation was read, or skipped and counted
    assert data.num_persons + sum(data.notes.counts.get(r, 0) for r in (
        "annotation_malformed", "annotation_unknown_image", "annotation_duplicate_id")) + \
        sum(1 for a in dataset["annotations"] if isinstance(a, dict) and a.get("iscrowd") not in
            (0, None, False, "0", "")) >= len(dataset["annotations"])


@st.composite
def mpii_entries(draw):
    entries = []
    for k in range(draw(st.integers(0, 8))):
        labelled = [draw(st.booleans()) for _ in range(16)]
        joints = [[draw(coord), draw(coord)] if v else [-1.0, -1.0] for v in labelled]
        entries.append({"image": f"{draw(st.integers(0, 3))}.jpg", "joints": joints,
                        "joints_vis": [int(v) for v in labelled],
                        "center": [draw(coord), draw(coord)],
                        "scale": draw(st.floats(0.1, 10).map(lambda v: round(v, 3)))})
    return entries


@SETTINGS
@given(entries=mpii_entries())
def test_mpii_round_trip(tmp_path, entries):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps(entries))
    data = read_source("mpii", path, tmp_path)
    assert data.num_persons == len(entries)
    assert data.num_images == len({e["image"] for e in entries})
    for p, e in enumerate(entries):
        assert data.image_files[data.person_image[p]] == e["image"]
        vis_ = (np.array(e["joints_vis"]) > 0) & (np.array(e["joints"]) != 0).any(1)  # (0, 0): quirk
        np.testing.assert_allclose(data.keypoints[p, vis_, :2], np.array(e["joints"])[vis_])
        assert (data.keypoints[p, :, 2] > 0).tolist() == vis_.tolist()
    assert data.joint_set is MPII


@pytest.mark.parametrize("entry", [
    {"image": "a.jpg", "joints": [[1, 2]] * 15, "joints_vis": [1] * 16, "center": [0, 0], "scale": 1},
    {"image": "a.jpg", "joints": [[1, 2]] * 16, "joints_vis": [1] * 16, "center": [0, 0], "scale": -1},
    {"image": 5, "joints": [[1, 2]] * 16, "joints_vis": [1] * 16, "center": [0, 0], "scale": 1},
    {"joints": [[1, 2]] * 16},
    {"image": "a.jpg", "joints": [["x", 2]] * 16, "joints_vis": [1] * 16, "center": [0, 0], "scale": 1},
])
def test_bad_mpii_entries_are_skipped_or_refused_with_strict(tmp_path, entry):
    good = {"image": "b.jpg", "joints": [[1, 2]] * 16, "joints_vis": [1] * 16, "center": [5, 5],
            "scale": 1}
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([entry, good]))
    data = read_source("mpii", path, tmp_path)
    assert data.person_keys == ["b.jpg#0"] and data.notes.counts == {"annotation_malformed": 1}
    with pytest.raises(InputError, match="mpii.json: entry 0: .*--strict"):
        read_source("mpii", path, tmp_path, strict=True)


@SETTINGS
@given(value=st.fixed_dictionaries({"images": st.lists(json_values, max_size=4)},
                                   optional={"annotations": st.lists(json_values, max_size=4),
                                             "x": json_values}) | json_values,
       where=st.floats(0, 1), insert=st.sampled_from(["", ",", "[", "]", "}", ":", '"', " "]))
def test_streamed_parse_is_json_loads(value, where, insert):
    """The streaming parser gives what json.loads gives: the same values (streamed lists'
    elements in order) and, on damaged text, the same error at the same place."""
    from wsp_core.formats.jsonstream import Streamed, parse_streaming

    text = json.dumps(value)
    marks = [i for i, ch in enumerate(text) if ch in ',:[]{}"'] + [len(text)]
    cut = marks[int(where * (len(marks) - 1))]   # a character inserted at a mark, or it deleted
    text = text[:cut] + insert + text[cut + (insert == ""):]
    try:
        expected, error = json.loads(text), None
    except json.JSONDecodeError as e:
        expected, error = None, (e.msg, e.pos)
    got: dict[str, list] = {"images": [], "annotations": []}
    try:
        parsed = parse_streaming(text, {k: got[k].append for k in got})
    except json.JSONDecodeError as e:
        assert (e.msg, e.pos) == error
        return
    assert error is None
    if isinstance(expected, dict):
        for key, items in got.items():
            if isinstance(parsed.get(key), Streamed):
                assert (items, parsed[key].count) == (expected[key], len(items))
                parsed[key] = items
    assert json.dumps(parsed) == json.dumps(expected)
