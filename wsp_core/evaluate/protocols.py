"""The field's evaluation protocols, selectable by name on any set with subjects and actions
(Human3.6M, the synthetic world's single-person set). Subject lists as 3DMPPE's ``Human36M.py``
has them (which calls our ``subject1`` its protocol 2 and our ``subject2`` its protocol 1).

- ``subject1``: train on subjects 1, 5, 6, 7, 8; test on 9 and 11; MPJPE (root-aligned).
- ``subject2``: train on 1, 5, 6, 7, 8, 9; test on 11; PA-MPJPE.
- ``cross-action``: train on one action (``action``, default the first in alphabetical order)
  of the training subjects 1, 5, 6, 7, 8; test on every action of 9 and 11 (Martinez et al.
  2017, SRNet); MPJPE and PA-MPJPE both reported.
"""

from __future__ import annotations

import numpy as np

from ..errors import BadValue

TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
TEST_SUBJECTS = (9, 11)
PROTOCOLS = {
    "subject1": {"train": TRAIN_SUBJECTS, "test": TEST_SUBJECTS, "metric": "mpjpe"},
    "subject2": {"train": TRAIN_SUBJECTS + (9,), "test": (11,), "metric": "pa_mpjpe"},
    "cross-action": {"train": TRAIN_SUBJECTS, "test": TEST_SUBJECTS, "metric": "mpjpe"},
}


def protocol_split(subjects, actions, protocol: str,
                   action: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Indices of the training and test samples of a protocol, and its metric's name."""
    if protocol not in PROTOCOLS:
        raise BadValue("protocol", f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    subjects, actions = np.asarray(subjects), np.asarray(actions)
    train = np.isin(subjects, spec["train"])
    test = np.isin(subjects, spec["test"])
    if protocol == "cross-action":
        chosen = action or sorted(set(actions[train].tolist()) or {""})[0]
        train &= actions == chosen
        if not train.any():
            raise BadValue("action", f"no sample of action {chosen!r} among the training subjects "
                             f"{', '.join(map(str, spec['train']))}")
    return np.flatnonzero(train), np.flatnonzero(test), spec["metric"]


def _ints(text: str) -> set[int]:
    return {int(v) for v in text.split(",") if v.strip()}


def custom_split(subjects, actions, train_subjects: str, test_subjects: str,
                 train_actions: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Protocol ``custom``: train on ``train_subjects`` (only ``train_actions`` when given), test
    on every action of ``test_subjects`` — e.g. a narrow 3D training set and a wide test set.
    Subjects and actions are comma-separated lists."""
    subjects, actions = np.asarray(subjects), np.asarray(actions)
    wanted = {a.strip() for a in train_actions.split(",") if a.strip()}
    train = np.isin(subjects, list(_ints(train_subjects)))
    if wanted:
        train &= np.isin(actions, list(wanted))
    test = np.isin(subjects, list(_ints(test_subjects))) & ~train
    return np.flatnonzero(train), np.flatnonzero(test)
