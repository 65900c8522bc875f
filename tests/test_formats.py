import json

import numpy as np
import pytest

from conftest import sample
from helpers import coco_file, standing_person, two_person_coco, write_image
from wsp_core.errors import InputError
from wsp_core.formats import read_source, resolve_images
from wsp_core.skeleton import POSETRACK


def test_coco_sample_as_it_really_is():
    data = read_source("coco", sample("coco", "test_coco.json"), sample("coco"))
    assert data.num_images == 4 and data.num_persons == 14
    assert data.keypoints.shape == (14, 17, 3)
    i = data.image_keys.index("785")
    assert tuple(data.image_size[i]) == (640, 425)
    assert data.image_files[i] == "000000000785.jpg"
    p = data.person_keys.index("442619")
    np.testing.assert_allclose(data.bbox[p], [280.79, 44.73, 218.7, 346.68])
    np.testing.assert_allclose(data.keypoints[p, 15], [466, 362, 2])


def test_crowdpose_sample_joints_and_extra_fields():
    data = read_source("crowdpose", sample("crowdpose", "test_crowdpose.json"), sample("crowdpose"))
    assert data.num_persons == 5 and data.keypoints.shape[1] == 14
    p = data.person_keys.index("127068")
    np.testing.assert_allclose(data.keypoints[p, 12], [351, 163, 1])   # head
    np.testing.assert_allclose(data.keypoints[p, 13], [364, 198, 1])   # neck


def test_mpii_sample_boxes_and_header_sizes():
    data = read_source("mpii", sample("mpii", "test_mpii.json"), sample("mpii"))
    assert data.num_images == 5 and data.num_persons == 5
    assert (data.image_size == 0).all()            # the file gives no size ...
    resolve_images(data, np.ones(5, dtype=bool))
    from PIL import Image
    for i, name in enumerate(data.image_files):  # ... the image header does
        with Image.open(sample("mpii", name)) as im:
            assert tuple(data.image_size[i]) == im.size
    p = data.image_files.index("051423444.jpg")
    assert (data.keypoints[p, [0, 5], 2] == 0).all()   # -1, -1 sentinels: not labelled
    side = 3.139233 * 200
    np.testing.assert_allclose(data.bbox[p], [1030 - side / 2, 396 - side / 2, side, side])


def _posetrack_video(folder, video, frame_base, persons_per_frame):
    images, anns = [], []
    for f, n in enumerate(persons_per_frame):
        fid = frame_base + f
        name = f"images/val/{video}/{f:06d}.jpg"
        images.append({"id": fid, "file_name": name, "frame_id": fid, "vid_id": video,
                       "is_labeled": n > 0, "nframes": len(persons_per_frame)})
        for k in range(n):
            kp = standing_person(50 + 200 * k, 300 + 40 * k, 150)
            kp[3 * 3:5 * 3] = [0, 0, 0, 0, 0, 0]          # ears are never labelled
            anns.append({"id": fid * 10 + k, "image_id": fid, "track_id": k, "category_id": 1,
                         "bbox": [20 + 200 * k, 140, 80, 170], "bbox_head": [40, 140, 20, 25],
                         "keypoints": kp})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK.joints)}]}


def test_posetrack_folder_of_videos(tmp_path):
    ann = tmp_path / "annotations" / "val"
    ann.mkdir(parents=True)
    for video, base, frames in [("000001_bonn", 10000010000, [2, 0]),
                                ("000002_mpii", 10000020000, [3])]:
        (ann / f"{video}.json").write_text(json.dumps(_posetrack_video(ann, video, base, frames)))
        for f in range(len(frames)):
            write_image(tmp_path / "images" / "val" / video / f"{f:06d}.jpg", (320, 240))
    data = read_source("posetrack", ann, tmp_path)
    assert data.num_images == 3 and data.num_persons == 5
    assert data.image_files[0] == "images/val/000001_bonn/000000.jpg"
    assert data.person_extra[0] == {"track_id": 0, "bbox_head": [40, 140, 20, 25]}
    resolve_images(data, np.ones(3, dtype=bool))
    assert (data.image_size == [320, 240]).all()


# ---- bad input: one InputError naming the file and the problem -------------------------------

def test_malformed_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [}')
    with pytest.raises(InputError, match=r"bad\.json: malformed JSON: .* line 1 column 13"):
        read_source("coco", bad, tmp_path)


def _edit(ann, change):
    d = json.loads(ann.read_text())
    change(d)
    ann.write_text(json.dumps(d))


def test_keypoint_list_of_the_wrong_length_skips_that_annotation(tmp_path):
    ann, images = two_person_coco(tmp_path)
    _edit(ann, lambda d: d["annotations"][1].update(keypoints=d["annotations"][1]["keypoints"][:-3]))
    data = read_source("coco", ann, images)
    assert data.person_keys == ["1"]
    assert data.notes.counts == {"annotation_malformed": 1}
    assert "annotation 2: keypoint list of length 48, expected 51" in \
        data.notes.examples["annotation_malformed"]
    with pytest.raises(InputError, match=r"ann\.json: annotation 2: keypoint list of length 48, "
                                         r"expected 51 .*: malformed annotations \(refused: --strict\)"):
        read_source("coco", ann, images, strict=True)


@pytest.mark.parametrize("value", ["12", True, None])
def test_keypoints_given_as_text_or_booleans_are_refused(tmp_path, value):
    ann, images = two_person_coco(tmp_path)
    _edit(ann, lambda d: d["annotations"][0]["keypoints"].__setitem__(15 * 3, value))
    data = read_source("coco", ann, images)
    assert data.person_keys == ["2"] and data.notes.counts == {"annotation_malformed": 1}
    assert "not all numbers" in data.notes.examples["annotation_malformed"]


@pytest.mark.parametrize("value, reason", [(float("nan"), "joint_not_finite"),
                                           (float("inf"), "joint_not_finite")])
def test_non_finite_coordinates_make_the_joint_unlabelled(tmp_path, value, reason):
    ann, images = two_person_coco(tmp_path)
    _edit(ann, lambda d: d["annotations"][0]["keypoints"].__setitem__(15 * 3 + 1, value))
    data = read_source("coco", ann, images)
    assert data.keypoints[0, 15].tolist() == [0, 0, 0]       # unlabelled, and valid JSON
    assert data.keypoints[0, 16, 2] == 2 and data.notes.counts == {reason: 1}
    with pytest.raises(InputError, match="annotation 1 joint 15 \\(left_ankle\\).*--strict"):
        read_source("coco", ann, images, strict=True)


def test_a_labelled_joint_at_the_origin_is_a_coco_quirk(tmp_path):
    ann, images = two_person_coco(tmp_path)
    _edit(ann, lambda d: d["annotations"][0]["keypoints"].__setitem__(slice(45, 48), [0, 0, 2]))
    data = read_source("coco", ann, images)
    assert data.keypoints[0, 15, 2] == 0 and data.notes.counts == {"joint_at_origin": 1}


def test_unlabelled_joint_may_hold_a_sentinel(tmp_path):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    d["annotations"][0]["keypoints"][0:3] = [-1, -1, 0]
    ann.write_text(json.dumps(d))
    assert read_source("coco", ann, images).num_persons == 2


def test_missing_image(tmp_path):
    ann, images = two_person_coco(tmp_path)
    (images / "a.jpg").unlink()
    data = read_source("coco", ann, images)
    with pytest.raises(InputError, match="image 'a.jpg' not found"):
        resolve_images(data, np.ones(1, dtype=bool))


@pytest.mark.parametrize("name", ["../outside.jpg", "/etc/passwd", "sub/../../x.jpg"])
def test_image_path_escaping_the_root(tmp_path, name):
    ann, images = two_person_coco(tmp_path)
    write_image(tmp_path / "outside.jpg")
    d = json.loads(ann.read_text())
    d["images"][0]["file_name"] = name
    ann.write_text(json.dumps(d))
    data = read_source("coco", ann, images)
    with pytest.raises(InputError, match="escapes the image root"):
        resolve_images(data, np.ones(1, dtype=bool))


def test_unknown_format(tmp_path):
    ann, images = two_person_coco(tmp_path)
    with pytest.raises(InputError, match="unknown format 'cocoa'"):
        read_source("cocoa", ann, images)


def test_wrong_joint_set_is_named(tmp_path):
    with pytest.raises(InputError, match="declares 14 joints .* expects 17 .*crowdpose file"):
        read_source("coco", sample("crowdpose", "test_crowdpose.json"), tmp_path)


def test_annotation_of_an_unknown_image_is_skipped(tmp_path):
    ann, images = two_person_coco(tmp_path)
    _edit(ann, lambda d: d["annotations"][0].update(image_id=99))
    data = read_source("coco", ann, images)
    assert data.person_keys == ["2"]
    assert data.notes.as_dict() == {"annotation_unknown_image": {
        "count": 1, "example": "ann.json: annotation 1 refers to image 99"}}
    with pytest.raises(InputError, match="annotation 1 refers to image 99"):
        read_source("coco", ann, images, strict=True)


def test_not_a_coco_layout(tmp_path):
    f = tmp_path / "list.json"
    f.write_text("[1, 2]")
    with pytest.raises(InputError, match="expected a JSON object"):
        read_source("coco", f, tmp_path)
    with pytest.raises(InputError, match="expected a JSON list"):
        read_source("mpii", coco_file(tmp_path / "c.json", [], []), tmp_path)


def test_crowd_regions_are_not_persons(tmp_path):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    d["annotations"][1]["iscrowd"] = 1
    ann.write_text(json.dumps(d))
    assert read_source("coco", ann, images).num_persons == 1
    for not_crowd in ("0", False, None, 0.0):
        _edit(ann, lambda d: d["annotations"][1].update(iscrowd=not_crowd))
        assert read_source("coco", ann, images).num_persons == 2, not_crowd
    _edit(ann, lambda d: d["annotations"][1].update(iscrowd="1"))
    assert read_source("coco", ann, images).num_persons == 1


def test_ids_that_differ_only_in_type_are_the_same_id(tmp_path):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    d["annotations"][1]["id"] = "1"
    ann.write_text(json.dumps(d))
    data = read_source("coco", ann, images)
    assert data.person_keys == ["1"] and data.notes.counts == {"annotation_duplicate_id": 1}
    with pytest.raises(InputError, match="annotation id 1 appears twice"):
        read_source("coco", ann, images, strict=True)
    d["annotations"][1]["id"] = 2
    d["annotations"][1]["image_id"] = "7"       # refers to image 7 by its text: accepted
    ann.write_text(json.dumps(d))
    assert read_source("coco", ann, images).person_image.tolist() == [0, 0]


def test_annotations_before_images_read_as_in_the_usual_order(tmp_path):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    d["annotations"] += [{"id": 5, "image_id": 99, "keypoints": d["annotations"][0]["keypoints"]},
                         {"id": 2 ** 70, "image_id": 7, "keypoints": [1.5] * 51}]
    ann.write_text(json.dumps(d))
    usual = read_source("coco", ann, images)
    ann.write_text(json.dumps({"annotations": d["annotations"], "categories": d["categories"],
                               "images": d["images"]}))
    first = read_source("coco", ann, images)
    assert first.person_keys == usual.person_keys == ["1", "2", str(2 ** 70)]
    np.testing.assert_array_equal(first.keypoints, usual.keypoints)
    assert first.notes.as_dict() == usual.notes.as_dict()
    assert usual.notes.examples["annotation_unknown_image"] == \
        "ann.json: annotation 5 refers to image 99"


@pytest.mark.parametrize("order, refusal", [
    ((0, 1), "annotation id 1 appears twice"),
    ((1, 0), "annotation entry 2 'junk' is not an object"),
])
def test_strict_refuses_at_the_first_decision_in_the_file(tmp_path, order, refusal):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    extra = [dict(d["annotations"][0]), "junk"]            # a repeated id, a malformed entry
    d["annotations"] += [extra[i] for i in order]
    ann.write_text(json.dumps(d))
    assert read_source("coco", ann, images).notes.counts == {"annotation_duplicate_id": 1,
                                                            "annotation_malformed": 1}
    with pytest.raises(InputError, match=refusal):
        read_source("coco", ann, images, strict=True)


def test_a_list_given_twice_refuses_the_file(tmp_path):
    ann, images = two_person_coco(tmp_path)
    text = ann.read_text()
    ann.write_text(text[:-1] + ', "annotations": []}')
    with pytest.raises(InputError, match=r"ann\.json: top-level key 'annotations' appears twice"):
        read_source("coco", ann, images)


@pytest.mark.parametrize("text, problem", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"images": [{"id": 1' + "0" * 5000 + '}]}', "malformed JSON"),
])
def test_pathological_json(tmp_path, text, problem):
    f = tmp_path / "x.json"
    f.write_text(text)
    with pytest.raises(InputError, match=problem):
        read_source("coco", f, tmp_path)


def test_infinite_or_textual_sizes_fall_back_to_the_header(tmp_path):
    ann, images = two_person_coco(tmp_path)
    d = json.loads(ann.read_text())
    d["images"][0]["width"] = float("inf")
    d["images"][0]["height"] = "480"
    ann.write_text(json.dumps(d))
    data = read_source("coco", ann, images)
    resolve_images(data, np.ones(1, dtype=bool))
    assert tuple(data.image_size[0]) == (640, 480)


def test_mpii_keys_survive_entries_added_elsewhere(tmp_path):
    entries = json.loads(sample("mpii", "test_mpii.json").read_text())
    first = read_source("mpii", sample("mpii", "test_mpii.json"), sample("mpii"))
    f = tmp_path / "more.json"
    f.write_text(json.dumps([dict(entries[2], image="other.jpg")] + entries))
    again = read_source("mpii", f, sample("mpii"))
    assert again.person_keys[1:] == first.person_keys
    assert first.person_keys[0] == "005808361.jpg#0"


def test_person_boxes_of_one_photo_from_a_coco_file(tmp_path):
    from helpers import coco_file, standing_person
    from wsp_core.formats.coco import person_boxes

    images = [{"id": 1, "file_name": "sub/a.jpg", "width": 640, "height": 480},
              {"id": 2, "file_name": "b.jpg", "width": 640, "height": 480}]
    anns = [{"id": 1, "image_id": 1, "iscrowd": 0, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 1, "iscrowd": 0, "keypoints": standing_person(100, 300, 100)},
            {"id": 3, "image_id": 1, "iscrowd": 1, "bbox": [0, 0, 5, 5]},
            {"id": 4, "image_id": 2, "iscrowd": 0, "bbox": [1, 2, 3, 4]}]
    ann = coco_file(tmp_path / "ann.json", images, anns)
    boxes = person_boxes(ann, "/photos/a.jpg")
    assert boxes[0] == [10.0, 20.0, 30.0, 40.0] and len(boxes) == 2
    x, y, w, h = boxes[1]  # from the keypoints: eyes at y 205, ankles at 300; grown by 20 %
    assert np.isclose(h, 1.2 * 95) and np.isclose(y, 205 - 0.1 * 95)
    with pytest.raises(InputError, match="lists no image named c.jpg"):
        person_boxes(ann, "c.jpg")
    (tmp_path / "bad.json").write_text('{"images": []}')
    with pytest.raises(InputError, match="not a COCO-style file"):
        person_boxes(tmp_path / "bad.json", "a.jpg")
