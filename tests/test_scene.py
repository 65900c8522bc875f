"""The 3D tab's scene model, without Qt or OpenGL."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from test_no_qt import SCRIPT
from wsp_app.scene import (ERROR_RED_MM, PERSON_COLOURS, TRUTH_COLOUR, SceneModel, error_colours,
                           sample_skeletons, side_by_side, to_world)
from wsp_core.skeleton import H36M, bones


def test_the_scene_model_imports_without_qt():
    script = SCRIPT.split("import wsp_core\n")[0] + "import wsp_app.scene\n" + \
        "assert not [m for m in sys.modules if m.split('.')[0] in BLOCKED]\nprint('ok')\n"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_camera_frame_becomes_z_up_metres():
    cam = np.array([[100.0, -500.0, 2000.0]])  # right, up (y down), away; mm
    assert np.allclose(to_world(cam), [[0.1, 2.0, 0.5]])


def test_error_colours_run_from_green_to_red():
    rgba = error_colours(np.array([0.0, ERROR_RED_MM / 2, ERROR_RED_MM, 5 * ERROR_RED_MM]))
    assert rgba[0, 1] > 0.8 and rgba[0, 0] == 0            # green
    assert rgba[1, 0] == 1.0 and rgba[1, 1] > 0.8          # yellow
    assert rgba[2, 0] == 1.0 and rgba[2, 1] == 0           # red, and it stays red
    assert np.allclose(rgba[3], rgba[2])


def skeleton_pose() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(0, 300, (17, 3))


def test_prediction_and_truth_overlay_with_per_joint_errors():
    gt = skeleton_pose()
    pred = gt.copy()
    pred[3] += [30.0, 40.0, 0.0]
    events = []
    model = SceneModel()
    model.subscribe(events.append)
    model.set_skeletons(sample_skeletons(pred, gt, bones(H36M), tuple(H36M.joints)))
    assert events == ["skeletons"]
    pred_sk, truth_sk = model.skeletons
    assert truth_sk.colour == TRUTH_COLOUR and pred_sk.colour == PERSON_COLOURS[0]
    assert np.isclose(pred_sk.errors_mm[3], 50.0) and pred_sk.errors_mm[0] == 0
    assert np.allclose(model.joint_colours(0)[:, :3], PERSON_COLOURS[0])
    model.set_colour_by_error(True)
    assert events[-1] == "colours"
    assert np.allclose(model.joint_colours(0)[3], error_colours(np.array([50.0]))[0])
    assert np.allclose(model.joint_colours(1)[:, :3], TRUTH_COLOUR)  # no errors on the truth
    assert np.isclose(model.ground_z(), min(to_world(gt)[:, 2].min(), to_world(pred)[:, 2].min()))


def test_legend_truth_and_a_collapsed_prediction_are_told():
    """The legend names each skeleton with its colour; colouring by error is possible only with
    the truth; a prediction whose joints all sit within 50 mm of each other is flagged."""
    gt = skeleton_pose()
    model = SceneModel()
    model.set_skeletons(sample_skeletons(gt + 5.0, gt, bones(H36M), tuple(H36M.joints)))
    assert model.legend() == [("prediction", PERSON_COLOURS[0]), ("ground truth", TRUTH_COLOUR)]
    assert model.has_truth and model.warnings() == []
    point = np.tile(gt.mean(0), (len(gt), 1)) + np.random.default_rng(0).normal(0, 5, gt.shape)
    model.set_skeletons(sample_skeletons(point, None, bones(H36M), tuple(H36M.joints)))
    assert not model.has_truth
    warning, = model.warnings()
    assert warning.startswith("prediction: every joint within") and "a point" in warning


def test_pick_takes_the_nearest_joint_within_the_radius():
    model = SceneModel()
    model.set_skeletons(sample_skeletons(skeleton_pose() + 10, skeleton_pose(), bones(H36M),
                                         tuple(H36M.joints)))
    screen = [np.array([[10.0, 10.0], [100.0, 100.0]]), np.array([[104.0, 100.0]])]
    assert model.pick(screen, (102.5, 100.0)) == (1, 0)
    assert model.describe() == f"ground truth: {H36M.joints[0]}"
    assert model.pick(screen, (99.0, 101.0)) == (0, 1)
    assert model.describe().startswith(f"prediction: {H36M.joints[1]}, error ")
    assert model.pick(screen, (300.0, 300.0)) is None
    assert model.describe() == "click a joint to read its error"


def test_persons_stand_side_by_side_in_their_own_colours():
    persons = [skeleton_pose(), skeleton_pose()]
    sks = side_by_side(persons, bones(H36M), tuple(H36M.joints), ["A", "B"], spacing_m=1.2)
    assert [s.label for s in sks] == ["A", "B"]
    assert [s.colour for s in sks] == list(PERSON_COLOURS[:2])
    assert np.allclose(sks[1].points() - sks[0].points(), [1.2, 0, 0])
