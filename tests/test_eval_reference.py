"""3D metrics against formulas written from the reference documents: VideoPose3D's p_mpjpe
(similarity Procrustes, Umeyama's closed form), 3DMPPE's rigid_align (rotation + translation),
and MuPoTS-3D's official 3DPCK on hand-made scenes."""

import numpy as np
import pytest

from wsp_core.evaluate.metrics import (axis_errors, joints_avg_paper, mpjpe, pa_mpjpe,
                                       pa_mpjpe_rigid)
from wsp_core.evaluate.mupots import Scene, mupots_pck, rescale_bones


def umeyama(x, y, with_scale):
    """Best c·x·R + t ≈ y for one pose (J, 3) (Umeyama 1991; reflections excluded)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    u, d, vt = np.linalg.svd(xc.T @ yc)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ fix @ vt
    c = np.trace(np.diag(d) @ fix) / (xc ** 2).sum() if with_scale else 1.0
    return c * xc @ rot + my


def reference_error(pred, gt, with_scale):
    return np.mean([np.linalg.norm(umeyama(p, g, with_scale) - g, axis=1).mean()
                    for p, g in zip(pred, gt)])


@pytest.fixture
def noisy_poses():
    rng = np.random.default_rng(7)
    gt = rng.normal(0, 250, (20, 17, 3)) + [0, 0, 4000]
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))                                  # a proper rotation
    pred = 0.9 * (gt + rng.normal(0, 40, gt.shape)) @ q.T + [30.0, -60.0, 200.0]
    return pred, gt


def test_pa_mpjpe_matches_videopose3d_p_mpjpe(noisy_poses):
    pred, gt = noisy_poses
    assert pa_mpjpe(pred, gt) == pytest.approx(reference_error(pred, gt, True), rel=1e-9)


def test_pa_mpjpe_rigid_matches_3dmppe_rigid_align(noisy_poses):
    pred, gt = noisy_poses
    rigid = pa_mpjpe_rigid(pred, gt)
    assert rigid == pytest.approx(reference_error(pred, gt, False), rel=1e-9)
    # without scale the 0.9 shrink stays in the error: rigid is the larger of the two
    assert rigid > pa_mpjpe(pred, gt) + 1.0


def test_a_joint_the_ground_truth_lacks_never_counts(noisy_poses):
    pred, gt = noisy_poses
    visible = np.ones(gt.shape[:2], bool)
    visible[:, 9] = False                                            # e.g. MuPoTS has no "neck"
    spoiled = pred.copy()
    spoiled[:, 9] = 0.0                                              # (0, 0, 0): 4 m away
    keep = [j for j in range(17) if j != 9]
    assert mpjpe(spoiled, gt, visible, root=0) == pytest.approx(
        np.linalg.norm((pred[:, keep] - pred[:, :1]) - (gt[:, keep] - gt[:, :1]), axis=-1).mean())
    assert pa_mpjpe(spoiled, gt, visible) == pytest.approx(
        reference_error(pred[:, keep], gt[:, keep], True), rel=1e-9)
    assert pa_mpjpe_rigid(spoiled, gt, visible) == pytest.approx(
        reference_error(pred[:, keep], gt[:, keep], False), rel=1e-9)
    axes = axis_errors(spoiled, gt, visible, root=0)
    diff = np.abs((pred[:, keep] - pred[:, :1]) - (gt[:, keep] - gt[:, :1])).reshape(-1, 3)
    assert [axes[k] for k in "xyz"] == pytest.approx(diff.mean(0).tolist())


def test_joints_avg_of_the_paper_is_the_norm_of_the_axis_means(noisy_poses):
    assert joints_avg_paper({"x": 3.0, "y": 4.0, "z": 12.0}) == 13.0
    pred, gt = noisy_poses
    axes = axis_errors(pred, gt, root=0)
    # never larger than the mean Euclidean error (the norm of a mean <= the mean of norms)
    assert joints_avg_paper(axes) <= mpjpe(pred, gt, root=0)


# ---- MuPoTS-3D ------------------------------------------------------------------------------

# MuPoTS's joint order: head_top, thorax, r_shoulder, r_elbow, r_wrist, l_shoulder, l_elbow,
# l_wrist, r_hip, r_knee, r_ankle, l_hip, l_knee, l_ankle, pelvis, spine, head (mm, person-local)
BODY = np.array([[0, -1700, 0], [0, -1400, 0], [-200, -1400, 0], [-250, -1100, 20],
                 [-270, -850, 60], [200, -1400, 0], [250, -1100, 20], [270, -850, 60],
                 [-100, -900, 0], [-110, -480, 30], [-120, -60, 0], [100, -900, 0],
                 [110, -480, 30], [120, -60, 0], [0, -900, 0], [0, -1150, 10], [0, -1580, 0]],
                dtype=float)
F, C = 1500.0, np.array([960.0, 540.0])


def person(x_mm, z_mm):
    cam = BODY + [x_mm, 0.0, z_mm]
    return cam, cam[:, :2] / cam[:, 2:] * F + C


def scene(gts, preds, sequence="TS1", gt_vis=None):
    gt_cam = np.stack([g[0] for g in gts])
    gt_img = np.stack([g[1] for g in gts])
    pred_cam = np.stack([p[0] for p in preds]) if preds else np.zeros((0, 17, 3))
    pred_img = np.stack([p[1] for p in preds]) if preds else np.zeros((0, 17, 2))
    vis = np.ones(gt_cam.shape[:2], bool) if gt_vis is None else gt_vis
    return Scene(sequence, gt_cam, gt_img, vis, pred_cam, pred_img,
                 np.ones(pred_cam.shape[:2], bool))


def test_a_perfect_prediction_scores_100_all_and_matched():
    a, b = person(-800, 4000), person(900, 5000)
    r = mupots_pck([scene([a, b], [b, a])])                        # listed in another order
    assert r["pck3d_all"] == {str(t): 100.0 for t in (100, 110, 120, 130, 140, 150)}
    assert r["pck3d_matched"]["150"] == 100.0 and r["matched_persons"] == 2
    # AUC over 0, 5, ..., 150 mm: every threshold but 0 (an error is never < 0) scores 100
    assert r["pck3d_auc_all"] == pytest.approx(100.0 * 30 / 31)


def test_bones_13_times_too_long_score_100_after_rescaling():
    gt = person(0, 4000)
    root = gt[0][14]
    long_cam = root + 1.3 * (gt[0] - root) + [40.0, 0.0, 300.0]   # also off in root position
    r = mupots_pck([scene([gt], [(long_cam, gt[1])])])
    assert r["pck3d_all"]["100"] == 100.0
    # without the rescaling the head top alone would be 0.3 * 800 mm = 240 mm off
    assert np.linalg.norm(rescale_bones(long_cam - long_cam[14], gt[0] - root)
                          - (gt[0] - root), axis=1).max() < 1e-6


def test_a_missed_person_lowers_all_and_not_matched():
    a, b = person(-800, 4000), person(900, 5000)
    r = mupots_pck([scene([a, b], [a])])
    assert r["pck3d_all"]["150"] == 50.0 and r["pck3d_matched"]["150"] == 100.0
    assert r["persons"] == 2 and r["matched_persons"] == 1


def test_matching_is_on_2d_poses_within_40_px():
    a = person(0, 4000)
    far_2d = (a[0], a[1] + 41.0)                                   # right 3D, 2D 41 px off
    r = mupots_pck([scene([a], [far_2d])])
    assert r["matched_persons"] == 0 and r["pck3d_all"]["150"] == 0.0


def test_a_joint_the_ground_truth_lacks_never_counts_in_pck():
    gt = person(0, 4000)
    wrong = gt[0].copy()
    wrong[10] += [0, 0, 900.0]                                     # the right ankle is far off
    vis = np.ones((1, 17), bool)
    assert mupots_pck([scene([gt], [(wrong, gt[1])])])["pck3d_all"]["150"] == \
        pytest.approx(100 * 13 / 14)
    vis[0, 10] = False
    assert mupots_pck([scene([gt], [(wrong, gt[1])], gt_vis=vis)])["pck3d_all"]["150"] == 100.0


def test_overall_is_the_mean_over_sequences():
    a, b = person(-800, 4000), person(900, 5000)
    r = mupots_pck([scene([a, b], [a], "TS1"), scene([a], [a], "TS2"), scene([b], [b], "TS2")])
    assert r["by_sequence"]["TS1"]["pck3d_all"]["150"] == 50.0
    assert r["by_sequence"]["TS2"]["pck3d_all"]["150"] == 100.0
    assert r["pck3d_all"]["150"] == 75.0                           # not 3 of 4 persons pooled
