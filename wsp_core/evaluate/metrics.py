"""The field's metrics, each a short function of arrays. Relative depth now; 3D with fine-tuning."""

from __future__ import annotations

from typing import Any

import numpy as np


def rd_scores(y_true, y_prob, threshold: float = 0.5) -> dict[str, Any]:
    """Relative-depth scores of predicted probabilities that A is closer.

    AUC (scikit-learn's ``roc_auc_score``; None when only one class is present), and accuracy,
    precision, recall and F1 of the class "A closer" at ``threshold``; ``n`` the number of
    predictions. Each (pair, joint) prediction counts once, as in the paper's tables.
    """
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(y_prob, dtype=np.float64).ravel()
    if len(y) == 0:
        return {"n": 0, "auc": None, "accuracy": None, "precision": None, "recall": None, "f1": None}
    pred = (p >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", zero_division=0)
    return {"n": int(len(y)), "auc": float(roc_auc_score(y, p)) if len(set(y)) == 2 else None,
            "accuracy": float(accuracy_score(y, pred)), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}
