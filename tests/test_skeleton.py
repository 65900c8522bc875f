import numpy as np
import pytest

from wsp_core.skeleton import (CANONICAL, CANONICAL_INDEX, COCO, CROWDPOSE, H36M, JOINT_SETS,
                               MPII, MUCO, MUPOTS, POSETRACK, derive_joint, to_canonical)


def test_joint_counts_of_every_format():
    counts = {name: js.num_joints for name, js in JOINT_SETS.items()}
    assert counts == {"coco": 17, "crowdpose": 14, "posetrack": 17, "mpii": 16, "h36m": 17,
                      "muco": 21, "mupots": 17}
    for js in JOINT_SETS.values():
        assert len(set(js.canonical)) == js.num_joints, js.name  # no two joints map together


def test_sources_map_head_top_and_neck_where_they_label_them():
    assert CROWDPOSE.joints[CROWDPOSE.index("head_top")] == "head"
    assert POSETRACK.joints[POSETRACK.index("neck")] == "head_bottom"
    assert MPII.joints[MPII.index("neck")] == "upper_neck"
    assert H36M.joints[H36M.index("neck")] == "neck_base"
    assert not COCO.has("head_top") and not COCO.has("neck")
    assert MUPOTS.joints == MUCO.joints[:17]


@pytest.mark.parametrize("js", list(JOINT_SETS.values()), ids=lambda js: js.name)
def test_to_canonical_puts_each_joint_in_its_place(js):
    kp = np.zeros((1, js.num_joints, 3))
    kp[0, :, 0] = np.arange(js.num_joints) + 1
    kp[0, :, 2] = 2
    out = to_canonical(kp, js, derive=False)
    assert out.shape == (1, len(CANONICAL), 3)
    for j, name in enumerate(js.canonical):
        assert out[0, CANONICAL_INDEX[name], 0] == j + 1
    missing = [CANONICAL_INDEX[c] for c in CANONICAL if c not in js.canonical]
    assert (out[0, missing, 2] == 0).all()


def test_derived_pelvis_and_thorax_for_coco():
    kp = np.zeros((2, 17, 3))
    names = list(COCO.canonical)
    for name, xy in {"l_hip": (10, 100), "r_hip": (30, 104), "l_shoulder": (8, 50),
                     "r_shoulder": (28, 52)}.items():
        kp[:, names.index(name)] = (*xy, 2)
    kp[1, names.index("r_hip"), 2] = 1          # occluded: derived stays labelled, occluded
    kp[1, names.index("l_shoulder"), 2] = 0     # unlabelled: no thorax
    out = to_canonical(kp, COCO)
    pelvis, thorax = CANONICAL_INDEX["pelvis"], CANONICAL_INDEX["thorax"]
    np.testing.assert_allclose(out[0, pelvis], (20, 102, 2))
    np.testing.assert_allclose(out[0, thorax], (18, 51, 2))
    np.testing.assert_allclose(out[1, pelvis], (20, 102, 1))
    np.testing.assert_allclose(out[1, thorax], (0, 0, 0))


def test_source_pelvis_is_not_overwritten_by_derivation():
    kp = np.zeros((1, 16, 3))
    kp[0, MPII.index("pelvis")] = (5, 5, 2)
    kp[0, MPII.index("l_hip")] = (0, 0, 2)
    kp[0, MPII.index("r_hip")] = (100, 100, 2)
    assert tuple(to_canonical(kp, MPII)[0, CANONICAL_INDEX["pelvis"]]) == (5, 5, 2)


def test_derive_joint_visibility_is_the_product_of_labelled_flags():
    a = np.array([[0, 0, 2], [0, 0, 2], [0, 0, 0]], dtype=float)
    b = np.array([[2, 4, 2], [2, 4, 0], [2, 4, 2]], dtype=float)
    out = derive_joint(a, b)
    np.testing.assert_allclose(out, [[1, 2, 2], [0, 0, 0], [0, 0, 0]])


def test_wrong_joint_count_is_refused():
    with pytest.raises(ValueError, match="17 joints"):
        to_canonical(np.zeros((1, 14, 3)), COCO)
