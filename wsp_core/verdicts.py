"""The review vocabulary and its one rule, in one place.

A curator's verdict on a pair (``VERDICTS``), the reasons a verdict can give (``REASONS``), the
states a pair can be in (``STATUSES``) and the rule that turns a pair's latest verdict into the
label training uses (:func:`effective`). The ORM's check constraints, the store's queries, the
CLI's help and the app's actions and words are all built from these tuples, so a new reason or
verdict is added here and nowhere else (the migrations keep the constraints they were written
with; a new word needs a migration too).

Plain Python: no SQLAlchemy, no Qt.
"""

from __future__ import annotations

from .errors import BadValue

#: What a curator can say of a pair. "reset" takes a pair back to its automatic label; "note"
#: records a note and leaves the pair as it is.
VERDICTS = ("accept", "flip", "ambiguous", "exclude", "reset", "note")
NOTE = "note"
#: The note an undo or redo writes on its review (a reversal, not a curator's verdict).
UNDO_NOTE = "undo"
#: Why: optional on every verdict but accept and reset. New reasons are appended (their keys
#: are their places: 1 hugging … 8 lying) and need a migration of the reviews' constraint.
REASONS = ("hugging", "sitting", "stairs", "occlusion", "annotation_error", "other",
           "same_depth", "lying")
#: The state of a pair: "auto" (never reviewed, or reset) or its latest verdict.
STATUSES = ("auto", "accept", "flip", "ambiguous", "exclude")
#: The statuses a verdict leaves (every status but "auto").
REVIEWED = STATUSES[1:]
#: Verdicts that take a reason from a key (ambiguous: hugging, flip: stairs, ...).
WITH_REASON = ("ambiguous", "flip", "exclude")

#: Words for people (the app's panels, the CLI's summaries).
STATUS_TEXT = {"auto": "automatic", "accept": "accepted", "flip": "flipped",
               "ambiguous": "ambiguous", "exclude": "excluded"}
REASON_TEXT = {"hugging": "hugging", "sitting": "sitting", "stairs": "stairs / raised ground",
               "occlusion": "occlusion", "annotation_error": "annotation error",
               "other": "other", "same_depth": "same depth / too close to call",
               "lying": "lying"}


def check_verdict(verdict: str) -> str:
    """The verdict, or BadValue naming the allowed ones."""
    if verdict not in VERDICTS:
        raise BadValue("verdict", f"unknown verdict {verdict!r}; one of: {', '.join(VERDICTS)}")
    return verdict


def effective(verdict: str, auto_label: int) -> tuple[str, int | None]:
    """(status, label) of a pair after a review with ``verdict``: accept keeps the automatic
    label, flip inverts it, ambiguous and exclude leave the pair out of training (no label),
    reset goes back to the automatic label. A note changes nothing: it has no effect of its
    own (the pair keeps the state of its latest other review)."""
    if verdict == "accept":
        return "accept", auto_label
    if verdict == "flip":
        return "flip", 1 - auto_label
    if verdict in ("ambiguous", "exclude"):
        return verdict, None
    if verdict == "reset":
        return "auto", auto_label
    if verdict == NOTE:
        raise BadValue("verdict", "a note leaves the pair as it is: its state is its latest "
                                  "other review's")
    raise BadValue("verdict", f"unknown verdict {verdict!r}; one of: {', '.join(VERDICTS)}")


def restoring_verdict(status: str) -> str:
    """The verdict that brings a pair back to ``status`` ("auto" is restored by "reset")."""
    return "reset" if status == "auto" else status


def label_for(status: str, auto_label: int) -> int | None:
    """The label training uses for a pair in ``status``."""
    return effective(restoring_verdict(status), auto_label)[1]


def verdict_from_order(auto_label: int, rank_a: int, rank_b: int) -> tuple[str, str | None]:
    """The verdict on a pair when a curator ranked the image's persons by depth (0 nearest;
    equal ranks: the same depth): accept when the automatic label names the nearer person,
    flip when it names the farther one, ambiguous (same depth) for a tie."""
    if rank_a == rank_b:
        return "ambiguous", "same_depth"
    truth = 1 if rank_a < rank_b else 0  # label 1: A is closer
    return ("accept" if truth == auto_label else "flip"), None


#: A blind answer ("which person is closer?", the automatic label hidden) as depth ranks of A, B.
BLIND_ANSWERS = {"a": (0, 1), "b": (1, 0), "same": (0, 0)}


def verdict_from_answer(auto_label: int, answer: str) -> tuple[str, str | None]:
    """The verdict a blind answer implies: "a" (A is closer), "b" or "same" (same depth)."""
    if answer not in BLIND_ANSWERS:
        raise BadValue("answer", f"unknown answer {answer!r}; one of: {', '.join(BLIND_ANSWERS)}")
    return verdict_from_order(auto_label, *BLIND_ANSWERS[answer])


def normalise_reason(reason: str | None) -> str | None:
    """A reason as typed ("Annotation error", "annotation-error") as stored; None for none."""
    if reason is None or reason == "":
        return None
    value = reason.strip().lower().replace("-", "_").replace(" ", "_")
    if value not in REASONS:
        raise BadValue("reason", f"unknown reason {reason!r}; one of: {', '.join(REASONS)}")
    return value
