"""Relative-depth evaluation as numbers and text, numpy only (the app reads it without torch):
the paper's protocols by scale gap, the score against 3D truth, the heatmaps' measures, and
the tables ``eval-rd`` prints (the paper's Tables 2 and 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .metrics import rd_scores

#: RD protocol 1: cumulative subsets by scale gap ("<= 1.0" is every pair, unknown ΔS included).
DELTA_S_SUBSETS = (1.0, 0.5, 0.3, 0.1)


def rd_summary(pred: dict[str, np.ndarray]) -> dict[str, Any]:
    """RD scores on every (pair, joint), per ΔS subset (protocol 1), and against 3D truth."""
    if len(pred["prob"]) == 0:
        return {"subsets": {}, "pairs": 0}
    present = pred["present"].astype(bool)
    rows = {}
    for limit in DELTA_S_SUBSETS:
        keep = np.ones(len(pred["delta_s"]), bool) if limit >= 1.0 else \
            np.nan_to_num(pred["delta_s"], nan=2.0) <= limit
        mask = present & keep[:, None]
        labels = np.broadcast_to(pred["label"][:, None], present.shape)[mask]
        rows[f"<= {limit}"] = {"pairs": int(keep.sum()), **rd_scores(labels, pred["prob"][mask])}
    truth_known = pred["truth"] >= 0
    truth = None
    if truth_known.any():
        mask = present & truth_known[:, None]
        t = np.broadcast_to(pred["truth"][:, None], present.shape)[mask]
        lab = np.broadcast_to(pred["label"][:, None], present.shape)[mask]
        hit = (pred["prob"][mask] >= 0.5).astype(int)
        truth = {"pairs": int(truth_known.sum()), "accuracy_vs_truth": float((hit == t).mean()),
                 "accuracy_vs_labels": float((hit == lab).mean()),
                 "labels_vs_truth": float((lab == t).mean())}
    return {"pairs": int(len(pred["prob"])), "subsets": rows, "truth": truth,
            "heatmaps": heatmap_summary(pred["heatmaps"]) if "heatmaps" in pred else None}


def heatmap_summary(sums: np.ndarray) -> dict[str, float | None]:
    """Eq. 10's loss of the predicted heatmaps and of an all-zero output (per labelled map),
    and the share of labelled (and of visible) joints whose peak is found within 2 map pixels
    (the sums of :func:`~wsp_core.models.wsp.heatmap_scores`), by the argmax and by the
    field's quarter-pixel refined peak."""
    loss, zero, maps, found, labelled, found_visible, visible, refined, refined_visible = (
        float(v) for v in sums)
    return {"loss": loss / maps if maps else None, "zero_loss": zero / maps if maps else None,
            "peaks_within_2px": found / labelled if labelled else None,
            "peaks_within_2px_visible": found_visible / visible if visible else None,
            "refined_peaks_within_2px": refined / labelled if labelled else None,
            "refined_peaks_within_2px_visible": refined_visible / visible if visible else None}


def format_rd_tables(result: dict[str, Any]) -> str:
    """The paper's Tables 2 and 3: AUC, accuracy, precision, recall, F1 by ΔS subset (in %)."""
    order = result.get("order_seed")
    lines = [f"checkpoint {result['checkpoint']} (epoch {result['epoch']}, backbone started "
             f"from {result.get('start', '?')}), {result['pairs']} pairs ({result['split']}), "
             "A/B order " + ("as the source lists it" if order is None
                             else f"randomised (seed {order})"),
             "Prec/Rec/F1: the class \"A closer\"; mPrec/mRec/mF1: macro, over both classes"]
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    for protocol in (1, 2):
        r = result.get(f"protocol{protocol}")
        if not r:
            continue
        title = "RD protocol 1 (by scale gap)" if protocol == 1 else \
            "RD protocol 2 (ankle regions removed)"
        lines += ["", title, f"{'ΔS':<8} {'pairs':>6} {'AUC':>7} {'Acc':>7} {'Prec':>7} "
                             f"{'Rec':>7} {'F1':>7} {'mPrec':>7} {'mRec':>7} {'mF1':>7}"]
        for subset, s in r["subsets"].items():
            vals = " ".join(f"{'-' if s[k] is None else f'{100 * s[k]:.2f}':>7}"
                            for k in ("auc", "accuracy", "precision", "recall", "f1",
                                      "macro_precision", "macro_recall", "macro_f1"))
            lines.append(f"{subset:<8} {s['pairs']:>6} {vals}")
        if r.get("truth"):
            t = r["truth"]
            lines.append(f"against 3D truth ({t['pairs']} pairs): accuracy "
                         f"{100 * t['accuracy_vs_truth']:.2f} (vs the perspective labels "
                         f"{100 * t['accuracy_vs_labels']:.2f}; labels themselves right "
                         f"{100 * t['labels_vs_truth']:.2f})")
        hm = r.get("heatmaps") or {}
        if protocol == 1 and hm.get("loss") is not None:
            lines.append(f"heatmaps: eq. 10 loss {hm['loss']:.3f} (all-zero output "
                         f"{hm['zero_loss']:.3f}); peaks within 2 px of "
                         f"{100 * hm['peaks_within_2px']:.1f} % of the labelled joints"
                         + ("" if hm.get("peaks_within_2px_visible") is None else
                            f" ({100 * hm['peaks_within_2px_visible']:.1f} % of the visible)")
                         + ("" if hm.get("refined_peaks_within_2px") is None else
                            f"; refined peaks (the field's quarter-pixel decoding) "
                            f"{100 * hm['refined_peaks_within_2px']:.1f} % "
                            f"({100 * hm['refined_peaks_within_2px_visible']:.1f} %)"))
    return "\n".join(lines)

