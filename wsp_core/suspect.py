"""One suspicion from all the evidence: which pairs' automatic labels are most likely wrong.

Every signal the store has, oriented by the label ("near" = the person the automatic label calls
closer, "far" the other), becomes one feature (:data:`FEATURES`): the four cue scores, ΔS, the
ankle gap, the log ratios far/near of S and of box height, both boxes' aspect (a lying person's
box is wide, a sitting one's squat), both ankle heights in the image, the box overlap, and a
model's disagreement with the label (its probability of the other label; 0.5 and a flag where
it did not score the pair) — :data:`EARLY_FEATURES`; then both persons' pose hints from their
2D keypoints (knee and hip bend, torso tilt, how far the feet reach below the hips, the share of
joints labelled: :mod:`wsp_core.perspective.pose`) and how far each stands from the image's
vertical middle.

- **Before any verdict** (:func:`unsupervised_suspicion`): the largest of the percentile ranks
  of ``size_conflict`` and the model's disagreement — on the 2,000-image synthetic world the
  best combination of the existing scores (AUC 0.918, docs/SYNTHETIC.md).
- **With verdicts** (:class:`LearnedSuspicion`): a logistic regression (scikit-learn, balanced
  classes, standardised features) of "the curator flipped it" against "the curator accepted
  it" on the reviewed pairs, which then scores every pair. Ambiguous and excluded pairs are not
  used to fit (they are neither right nor wrong labels). It needs at least ``MIN_EACH`` pairs of
  each kind; until then the unsupervised order stands. Until ``ALL_FEATURES_EACH`` of each kind
  it fits only the EARLY_FEATURES: with a few dozen verdicts the 28 features over-fit the first
  pairs of the queue (on one of two 1,000-image synthetic worlds all of them from the start found
  fewer wrong labels in the first 5–10 % than the early ones; fitted from 60 verdicts of each kind
  on, they found more on both: docs/CURATION.md, Decisions).

Higher is more suspicious; scores are in [0, 1].
"""

from __future__ import annotations

import threading

from dataclasses import dataclass

import numpy as np

from .evaluate.ranking import mean_ranks
from .perspective.cues import box_overlap
from .perspective.pose import POSE_HINTS

#: The features fitted from the first verdicts on, in column order.
EARLY_FEATURES = ("hug", "size_conflict", "knee_line", "raised_ground", "delta_s",
                  "delta_s_known", "margin_rel", "log_scale_far_near", "log_height_far_near",
                  "aspect_near", "aspect_far", "ankle_near", "ankle_far", "overlap",
                  "disagreement", "model_known")
#: Per person (near, far): bends and tilt in degrees (0 = standing straight), the feet's drop
#: below the hips in torso lengths, the share of joints labelled, the distance of the box's
#: middle from the image's vertical middle line as a share of half the width.
POSE_FEATURES = tuple(f"{name}_{who}" for name in ("knee_bend", "hip_bend", "torso_tilt",
                                                   "leg_drop", "labelled", "off_centre")
                      for who in ("near", "far"))
#: All features, in column order: EARLY_FEATURES first.
FEATURES = EARLY_FEATURES + POSE_FEATURES
#: Verdicts of each kind (accept, flip) a learned suspicion needs before it replaces the
#: unsupervised order.
MIN_EACH = 10
#: Verdicts of each kind from which it fits all FEATURES (before: the EARLY_FEATURES).
ALL_FEATURES_EACH = 60
#: The desk re-ranks its learned queue after this many new verdicts.
RERANK_EVERY = 20


def features(signals: dict[str, np.ndarray], prob: np.ndarray | None = None) -> np.ndarray:
    """(N, len(FEATURES)) from :func:`wsp_core.store.signals.pair_signals`' columns and a
    model's P(A closer) per pair (NaN where it did not score; None: no model)."""
    a_near = signals["auto_label"] == 1

    def oriented(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.where(a_near, a, b), np.where(a_near, b, a)

    def near_far(name: str) -> tuple[np.ndarray, np.ndarray]:
        return oriented(signals[f"{name}_a"], signals[f"{name}_b"])

    (w_near, w_far), (h_near, h_far) = near_far("box_w"), near_far("box_h")
    s_near, s_far = near_far("scale")
    y_near, y_far = near_far("ankle_y")
    height = signals["height"]
    centres = oriented(signals["box_x_a"] + signals["box_w_a"] / 2.0,
                       signals["box_x_b"] + signals["box_w_b"] / 2.0)
    hints = {name: near_far(name) for name in POSE_HINTS}
    n = len(a_near)
    if prob is None:
        prob = np.full(n, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = {
            "hug": signals["hug"], "size_conflict": signals["size_conflict"],
            "knee_line": signals["knee_line"], "raised_ground": signals["raised_ground"],
            "delta_s": signals["delta_s"], "delta_s_known": np.isfinite(signals["delta_s"]),
            "margin_rel": signals["margin_rel"],
            "log_scale_far_near": np.log(s_far / s_near),
            "log_height_far_near": np.log(h_far / h_near),
            "aspect_near": w_near / h_near, "aspect_far": w_far / h_far,
            "ankle_near": y_near / height, "ankle_far": y_far / height,
            "overlap": box_overlap(
                np.stack([signals["box_x_a"], signals["box_y_a"], signals["box_w_a"],
                          signals["box_h_a"]], 1),
                np.stack([signals["box_x_b"], signals["box_y_b"], signals["box_w_b"],
                          signals["box_h_b"]], 1)),
            "disagreement": disagreement(signals["auto_label"], prob),
            "model_known": np.isfinite(prob)}
        for pick, who in enumerate(("near", "far")):
            columns |= {f"knee_bend_{who}": 180.0 - hints["knee_angle"][pick],
                        f"hip_bend_{who}": 180.0 - hints["hip_angle"][pick],
                        f"torso_tilt_{who}": hints["torso_tilt"][pick],
                        f"leg_drop_{who}": hints["leg_drop"][pick],
                        f"labelled_{who}": hints["labelled_share"][pick],
                        f"off_centre_{who}": np.abs(2.0 * centres[pick] / signals["width"] - 1.0)}
    # an unknown pose hint: the median of the known ones (0 would read as a standing person's
    # bend but as a lying person's drop)
    fill = {"disagreement": 0.5} | {name: _median_or(columns[name], 0.0) for name in POSE_FEATURES
                                    if not name.startswith("off_centre")}
    out = np.stack([np.asarray(columns[f], dtype=np.float64) for f in FEATURES], 1)
    for k, name in enumerate(FEATURES):
        bad = ~np.isfinite(out[:, k])
        out[bad, k] = fill.get(name, 0.0)
    return out


def disagreement(labels: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """A model's disagreement with labels (1: A closer; the automatic ones, or those training
    uses): its probability of the other label (``prob``: P(A closer); NaN where it did not
    score stays NaN)."""
    return np.where(np.asarray(labels) == 1, 1.0 - prob, prob)


def _median_or(values: np.ndarray, default: float) -> float:
    known = np.asarray(values, dtype=np.float64)
    known = known[np.isfinite(known)]
    return float(np.median(known)) if len(known) else default


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Each value's rank among all, in (0, 1] (ties share their mean rank)."""
    return mean_ranks(values) / max(len(values), 1)


def unsupervised_suspicion(x: np.ndarray) -> np.ndarray:
    """The order before any verdict (:func:`suspicion_before_verdicts`) of feature rows."""
    model = x[:, FEATURES.index("model_known")] > 0
    return suspicion_before_verdicts(x[:, FEATURES.index("size_conflict")],
                                     np.where(model, x[:, FEATURES.index("disagreement")],
                                              np.nan))


def suspicion_before_verdicts(size_conflict: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """The order before any verdict: max of the percentile ranks of ``size_conflict`` and,
    where a model scored the pair (``disagreement`` not NaN: its probability of the other
    label), of the disagreement: :func:`suspicious_first` with the size conflict as the cues."""
    return suspicious_first(percentile_rank(size_conflict), disagreement)


def cue_rank(suspicion: np.ndarray, size_conflict: np.ndarray) -> np.ndarray:
    """The stronger of the percentile ranks of the cue suspicion and of ``size_conflict``."""
    return np.maximum(percentile_rank(suspicion), percentile_rank(size_conflict))


def suspicious_first(cues: np.ndarray, disagreement: np.ndarray) -> np.ndarray:
    """The "most suspicious first" queue's score with a model: where the model scored the pair
    (``disagreement`` not NaN), the stronger of ``cues`` (:func:`cue_rank`) and the percentile
    rank of the disagreement; elsewhere ``cues``. A model's disagreement alone ranked wrong
    labels worse than the cues alone on both worlds measured (docs/CURATION.md, decisions);
    this did not."""
    model = np.isfinite(disagreement)
    disagree = percentile_rank(np.where(model, disagreement, 0.5))
    return np.where(model, np.maximum(cues, disagree), cues)


@dataclass
class LearnedSuspicion:
    """A suspicion fitted on the curator's verdicts (see the module's docstring)."""

    min_each: int = MIN_EACH
    all_features_each: int = ALL_FEATURES_EACH
    fitted: bool = False
    columns: int = len(FEATURES)
    _model: object = None

    def fit(self, x: np.ndarray, verdicts: np.ndarray) -> "LearnedSuspicion":
        """``verdicts``: per pair, 1 = the curator flipped the label (wrong), 0 = accepted it
        (right), -1 = no such verdict (unreviewed, ambiguous, excluded)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        used = verdicts >= 0
        fewer = min(int((verdicts == 1).sum()), int((verdicts == 0).sum()))
        self.fitted = fewer >= self.min_each
        self.columns = x.shape[1] if fewer >= self.all_features_each else \
            min(len(EARLY_FEATURES), x.shape[1])
        if self.fitted:
            self._model = make_pipeline(
                StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
            self._model.fit(x[used, :self.columns], verdicts[used])
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        """P(wrong) per pair once fitted, else the unsupervised order."""
        if not self.fitted:
            return unsupervised_suspicion(x)
        return self._model.predict_proba(x[:, :self.columns])[:, 1]


def verdict_targets(status: np.ndarray) -> np.ndarray:
    """Pairs' review statuses (STATUSES codes or words) as fitting targets: 1 flipped (the
    label was wrong), 0 accepted (right), -1 anything else."""
    from .verdicts import STATUSES

    codes = np.asarray(status)
    if codes.dtype.kind in "OUS":
        codes = np.array([STATUSES.index(v) for v in codes], dtype=np.int64)
    return np.where(codes == STATUSES.index("flip"), 1,
                    np.where(codes == STATUSES.index("accept"), 0, -1))


class StoreRanker:
    """The learned suspicion of every pair of a store, in pair id order: the features are read
    once (:func:`wsp_core.store.signals.pair_signals`; ``prob`` a model's P(A closer) per pair in
    the same order, or None), and :meth:`scores` fits on the statuses it is given."""

    def __init__(self, store, pair_ids: np.ndarray, prob: np.ndarray | None = None) -> None:
        from .store.signals import pair_signals

        signals = pair_signals(store)
        x = features(signals, None if prob is None else _aligned(prob, pair_ids,
                                                                  signals["pair_id"]))
        self.pair_ids = np.asarray(pair_ids)
        self.x = _aligned(x, signals["pair_id"], self.pair_ids, fill=0.0)
        self.model = LearnedSuspicion()
        self._fitting = threading.Lock()   # the desk's worker thread and its own may both fit

    def scores(self, status: np.ndarray) -> np.ndarray:
        """Per pair (``pair_ids`` order): P(wrong) from the verdicts in ``status`` once there
        are MIN_EACH of each kind, else the order before any verdict."""
        with self._fitting:
            return self.model.fit(self.x, verdict_targets(status)).score(self.x)


def _aligned(values: np.ndarray, from_ids: np.ndarray, to_ids: np.ndarray,
             fill: float = np.nan) -> np.ndarray:
    """Rows of ``values`` (ordered as the ascending ``from_ids``) reordered to ``to_ids``; rows
    of ids ``from_ids`` lacks are ``fill``."""
    k = np.clip(np.searchsorted(from_ids, to_ids), 0, max(len(from_ids) - 1, 0))
    found = (from_ids[k] == to_ids) if len(from_ids) else np.zeros(len(to_ids), bool)
    out = np.full((len(to_ids),) + values.shape[1:], fill, dtype=np.float64)
    out[found] = values[k[found]]
    return out


def store_suspicion(store) -> dict[str, object]:
    """Every pair's learned suspicion as the desk's learned queue would rank it when the store
    opens: the default model's scores as a feature (the latest with validation AUC ≥ 0.80,
    else none) and the store's verdicts fitted. Returns ``scores`` (pair id → score),
    ``checkpoint`` and whether the verdicts sufficed to learn (``learned``)."""
    from .store.browse import checkpoints, default_checkpoint
    from .store.signals import model_probs, pair_signals

    signals = pair_signals(store)
    checkpoint = default_checkpoint(checkpoints(store))
    prob = model_probs(store, signals["pair_id"], checkpoint)[checkpoint]["prob"] \
        if checkpoint is not None else None
    x = features(signals, prob)
    model = LearnedSuspicion().fit(x, verdict_targets(signals["status"]))
    return {"scores": dict(zip(signals["pair_id"].tolist(), model.score(x).tolist())),
            "checkpoint": checkpoint, "learned": model.fitted}
