"""Perspective knowledge: relative-depth labels from the ground-contact cue, S, ΔS, cue conflicts."""

from .cues import (box_overlap, ground_line_residual, hug_score, knee_line, raised_ground,
                   size_conflict)
from .joints import PERSPECTIVE_JOINTS, perspective_joints
from .pairs import PairTable, PersonMeasures, enumerate_pairs, label_pairs, measure_persons
from .pose import POSE_HINTS, PoseHints, labelled_share, person_pose_hints, pose_hints
from .scale import (SCALE_HEAD, SCALE_KINDS, SCALE_NONE, SCALE_PROXY, head_length,
                    person_scale, proxy_head_length, scale_gap)

__all__ = [
    "PERSPECTIVE_JOINTS", "POSE_HINTS", "PairTable", "PersonMeasures", "PoseHints",
    "perspective_joints",
    "SCALE_HEAD", "SCALE_KINDS", "SCALE_NONE", "SCALE_PROXY",
    "box_overlap", "enumerate_pairs", "ground_line_residual", "head_length", "hug_score",
    "knee_line", "label_pairs", "labelled_share", "person_pose_hints", "pose_hints",
    "measure_persons", "person_scale", "proxy_head_length", "raised_ground", "scale_gap",
    "size_conflict",
]
