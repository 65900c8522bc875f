"""The field's evaluation protocols, selectable by name on any set with subjects and actions
(Human3.6M, the synthetic world's single-person set).

- ``subject1``: train on subjects 1, 5, 6, 7, 8; test on 9 and 11; MPJPE (root-aligned).
- ``subject2``: train on 1, 5, 6, 7, 8, 9; test on 11; PA-MPJPE.
- ``cross-action``: train on one action (``action``, default the first in alphabetical order),
  all subjects; test on every other action; MPJPE.
"""

from __future__ import annotations

import numpy as np

PROTOCOLS = {
    "subject1": {"train": (1, 5, 6, 7, 8), "test": (9, 11), "metric": "mpjpe"},
    "subject2": {"train": (1, 5, 6, 7, 8, 9), "test": (11,), "metric": "pa_mpjpe"},
    "cross-action": {"metric": "mpjpe"},
}


def protocol_split(subjects, actions, protocol: str,
                   action: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Indices of the training and test samples of a protocol, and its metric's name."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    subjects, actions = np.asarray(subjects), np.asarray(actions)
    if protocol == "cross-action":
        chosen = action or sorted(set(actions.tolist()))[0]
        if chosen not in set(actions.tolist()):
            raise ValueError(f"no sample of action {chosen!r}")
        train = actions == chosen
        return np.flatnonzero(train), np.flatnonzero(~train), spec["metric"]
    return (np.flatnonzero(np.isin(subjects, spec["train"])),
            np.flatnonzero(np.isin(subjects, spec["test"])), spec["metric"])


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
