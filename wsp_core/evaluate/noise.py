"""The noise report: on a source with 3D truth, how often the perspective label is wrong, why,
and how well each cue-conflict score finds the wrong ones (``wsp-core noise-report``).

Truth: a is closer than b when a's pelvis has the smaller camera-frame depth. Causes come from the
synthetic world's per-person truth (``persons.extra``): a **hugging** pair (same hug group),
**raised ground** (either person on a step, stairs or a stage), **sitting/lying** (either person
sits, crouches or lies), **cut-off** (either person placed across the image border). A pair may
have several causes; "none" is a pair with none of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StoreError
from ..perspective.joints import perspective_joints
from ..perspective.scale import head_length, proxy_head_length, scale_gap
from ..skeleton import FORMAT_JOINT_SETS
from ..store import truth
from ..store.db import Store
from ..suspect import disagreement
from ..synth.body import NOT_STANDING
from .ranking import precision_at, recall_at, roc_auc

CAUSES = ("hugging", "raised_ground", "sitting_lying", "cut_off", "none")
SCORES = ("hug", "size_conflict", "knee_line", "raised_ground", "suspicion")
#: The cause each score was designed to catch: its AUC for finding pairs of that cause is
#: reported next to its AUC for finding wrong labels.
TARGET_CAUSE = {"hug": "hugging", "size_conflict": "sitting_lying", "knee_line": "raised_ground",
                "raised_ground": "raised_ground"}
DELTA_S_BINS = ((0.0, 0.1), (0.1, 0.3), (0.3, 0.5), (0.5, 1.0001))


def noise_report(store: Store, source: str | None = None) -> dict[str, Any]:
    """The report for every source with 3D truth (or the one named)."""
    reports = [r for r in (_source_report(store, s) for s in truth.sources(store, source))
               if r is not None]
    if not reports:
        raise StoreError(store.path, "no source with 3D truth (import a synthetic world with "
                                     "'wsp-core import --format synth')")
    return {"store": str(store.path), "sources": reports}


def _source_report(store: Store, src: dict[str, Any]) -> dict[str, Any] | None:
    joint_set = FORMAT_JOINT_SETS.get(src["format"])
    if joint_set is None or not joint_set.has("pelvis"):
        return None
    col = truth.truth_pairs(store, src["id"])
    if not col["pair_id"]:
        return None
    pelvis = joint_set.index("pelvis")
    depth_a = np.array([cam[pelvis][2] for cam in col["cam_a"]])
    depth_b = np.array([cam[pelvis][2] for cam in col["cam_b"]])
    auto = np.array(col["auto_label"])
    true = (depth_a < depth_b).astype(int)
    wrong = auto != true
    causes = _causes(col["extra_a"], col["extra_b"])
    delta_s = np.array([np.nan if v is None else v for v in col["delta_s"]], dtype=float)
    scores = {name: np.array(col[name], dtype=float) for name in SCORES}
    effective = np.array([-1 if v is None else v for v in col["label"]])
    used = effective >= 0
    pair_ids = np.array(col["pair_id"])
    return {
        "source": src["name"], "format": src["format"], "pairs": len(pair_ids),
        "wrong": int(wrong.sum()), "wrong_rate": _rate(wrong),
        "depth_gap_m_median_of_wrong": _median(np.abs(depth_a - depth_b)[wrong] / 1000.0),
        "by_cause": {c: _count(wrong[causes[c]]) for c in CAUSES},
        "by_delta_s": {f"[{lo:g}, {min(hi, 1.0):g}{')' if hi < 1 else ']'}":
                       _count(wrong[(delta_s >= lo) & (delta_s < hi)]) for lo, hi in DELTA_S_BINS}
        | {"unknown": _count(wrong[np.isnan(delta_s)])},
        "scores": {name: _ranking(wrong, s) | _cause_auc(name, causes, s)
                   for name, s in scores.items()},
        "models": _model_rankings(truth.scores_of(store, pair_ids), pair_ids, auto, wrong),
        "effective_labels": {"pairs_used": int(used.sum()),
                             "wrong": int((effective[used] != true[used]).sum()),
                             "wrong_rate": _rate(effective[used] != true[used])},
        "scale_proxy": _proxy_vs_true(joint_set, col["cam_a"] + col["cam_b"],
                                      col["keypoints_a"] + col["keypoints_b"],
                                      col["intrinsics"] + col["intrinsics"],
                                      col["person_a"] + col["person_b"]),
    }


def _causes(extra_a, extra_b) -> dict[str, np.ndarray]:
    def flag(pred):
        return np.array([pred(a or {}) or pred(b or {}) for a, b in zip(extra_a, extra_b)], dtype=bool)

    hug = np.array([(a or {}).get("hug_group") is not None and
                    (a or {}).get("hug_group") == (b or {}).get("hug_group")
                    for a, b in zip(extra_a, extra_b)], dtype=bool)
    out = {"hugging": hug,
           "raised_ground": flag(lambda e: (e.get("elevation_m") or 0) > 0.05),
           "sitting_lying": flag(lambda e: e.get("action") in NOT_STANDING),
           "cut_off": flag(lambda e: bool(e.get("cut")))}
    out["none"] = ~np.any(np.stack(list(out.values())), axis=0)
    return out


def _proxy_vs_true(joint_set, cams, keypoints, intrinsics, person_ids) -> dict[str, Any]:
    """True S = the head length of the projected 3D truth; the proxy from the labelled joints.

    The inputs list the a persons of all pairs, then the b persons; per-person figures count
    each person once, per-pair figures each pair once.
    """
    cam = np.array(cams, dtype=float)
    f = np.array([i["f"] for i in intrinsics], dtype=float)[:, None, :]
    c = np.array([i["c"] for i in intrinsics], dtype=float)[:, None, :]
    img = cam[..., :2] / cam[..., 2:3] * f + c
    truth = np.concatenate([img, np.full(img.shape[:2] + (1,), 2.0)], -1)
    true_s = head_length(perspective_joints(truth, joint_set))
    proxy = proxy_head_length(perspective_joints(np.array(keypoints, dtype=float), joint_set))
    n = len(cam) // 2
    _, first = np.unique(np.asarray(person_ids), return_index=True)
    once = np.zeros(len(cam), dtype=bool)
    once[first] = True
    ok = np.isfinite(true_s) & np.isfinite(proxy) & once
    ratio = proxy[ok] / true_s[ok]
    ds_true = scale_gap(true_s[:n], true_s[n:])
    ds_proxy = scale_gap(proxy[:n], proxy[n:])
    both = np.isfinite(ds_true) & np.isfinite(ds_proxy)
    larger_same = np.sign(true_s[:n] - true_s[n:]) == np.sign(proxy[:n] - proxy[n:])
    return {"persons": int(ok.sum()), "median_ratio": _median(ratio),
            "median_abs_rel_error": _median(np.abs(ratio - 1)),
            "corr_log": float(np.corrcoef(np.log(proxy[ok]), np.log(true_s[ok]))[0, 1])
            if ok.sum() > 2 else None,
            "delta_s_mean_abs_diff": float(np.abs(ds_true - ds_proxy)[both].mean()) if both.any() else None,
            "pairs_same_larger": float(larger_same[both].mean()) if both.any() else None}


def _ranking(wrong: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    return {"auc": roc_auc(wrong, score), "precision_top_5pct": precision_at(wrong, score, 0.05),
            "precision_top_10pct": precision_at(wrong, score, 0.10),
            "recall_top_10pct": recall_at(wrong, score, 0.10)}


def _model_rankings(rows: list[tuple], pair_ids: np.ndarray, auto: np.ndarray,
                    wrong: np.ndarray) -> dict[str, Any]:
    """How well each model that scored these pairs finds the wrong automatic labels when the
    queue sorts by its disagreement (its probability of the other label; unscored pairs last),
    over all pairs and over its out-of-sample and in-sample scores apart. ``rows``: the
    scores of these pairs (:func:`wsp_core.store.truth.scores_of`)."""
    position = {int(p): k for k, p in enumerate(pair_ids)}
    out: dict[str, Any] = {}
    by_model: dict[str, list] = {}
    for checkpoint, pair_id, prob, oos in rows:
        by_model.setdefault(checkpoint, []).append((position[pair_id], prob, oos))
    for checkpoint, scored in sorted(by_model.items()):
        k = np.array([s[0] for s in scored])
        prob = np.array([s[1] for s in scored], dtype=float)
        flag = np.array([-1 if s[2] is None else int(s[2]) for s in scored])
        score = np.full(len(auto), -1.0)
        score[k] = disagreement(auto[k], prob)
        report = {"pairs_scored": len(k), **_ranking(wrong, score)}
        for name, value in (("out_of_sample", 1), ("in_sample", 0)):
            part = k[flag == value]
            report[name] = {"pairs": len(part), "wrong": int(wrong[part].sum()),
                            "auc": roc_auc(wrong[part], score[part]) if len(part) else None}
        out[checkpoint] = report
    return out


def _cause_auc(name: str, causes: dict[str, np.ndarray], score: np.ndarray) -> dict[str, Any]:
    cause = TARGET_CAUSE.get(name)
    return {"target_cause": cause, "target_cause_auc": roc_auc(causes[cause], score)
            if cause else None}


def _count(mask: np.ndarray) -> dict[str, Any]:
    return {"pairs": int(len(mask)), "wrong": int(mask.sum()), "wrong_rate": _rate(mask)}


def _rate(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def format_noise_report(report: dict[str, Any]) -> str:
    lines = []
    for r in report["sources"]:
        lines.append(f"source {r['source']} ({r['format']}): {r['pairs']} pairs, "
                     f"{r['wrong']} perspective labels wrong ({_pct(r['wrong_rate'])})")
        lines.append(f"  {'cause':<16} {'pairs':>7} {'wrong':>7} {'rate':>7}")
        for cause, v in r["by_cause"].items():
            lines.append(f"  {cause:<16} {v['pairs']:>7} {v['wrong']:>7} {_pct(v['wrong_rate']):>7}")
        lines.append(f"  {'ΔS bin':<16} {'pairs':>7} {'wrong':>7} {'rate':>7}")
        for b, v in r["by_delta_s"].items():
            lines.append(f"  {b:<16} {v['pairs']:>7} {v['wrong']:>7} {_pct(v['wrong_rate']):>7}")
        lines.append(f"  {'score':<16} {'AUC':>7} {'P@5%':>7} {'P@10%':>7} {'R@10%':>7}   "
                     "finds its cause")
        for name, v in r["scores"].items():
            cause = f"{v['target_cause']} AUC {_num(v['target_cause_auc'])}" if v["target_cause"] else ""
            lines.append(f"  {name:<16} {_num(v['auc']):>7} {_pct(v['precision_top_5pct']):>7} "
                         f"{_pct(v['precision_top_10pct']):>7} {_pct(v['recall_top_10pct']):>7}"
                         f"   {cause}")
        for name, v in r.get("models", {}).items():
            o, i = v["out_of_sample"], v["in_sample"]
            lines.append(f"  model {name}: {v['pairs_scored']} pairs scored; disagreement AUC "
                         f"{_num(v['auc'])}, P@10% {_pct(v['precision_top_10pct'])}, R@10% "
                         f"{_pct(v['recall_top_10pct'])}; out-of-sample {o['pairs']} pairs "
                         f"(AUC {_num(o['auc'])}), in-sample {i['pairs']} (AUC {_num(i['auc'])})")
        e, p = r["effective_labels"], r["scale_proxy"]
        lines.append(f"  after reviews: {e['wrong']} of {e['pairs_used']} used labels wrong "
                     f"({_pct(e['wrong_rate'])})")
        lines.append(f"  COCO scale proxy vs true S over {p['persons']} persons: median ratio "
                     f"{_num(p['median_ratio'])}, median |error| {_pct(p['median_abs_rel_error'])}, "
                     f"log correlation {_num(p['corr_log'])}, mean |ΔS error| "
                     f"{_num(p['delta_s_mean_abs_diff'])}, same larger person in "
                     f"{_pct(p['pairs_same_larger'])} of pairs")
    return "\n".join(lines)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"
