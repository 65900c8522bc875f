"""Errors a user can act on: each names the file (or store) and the problem in one line."""

from __future__ import annotations

import os


class WspError(Exception):
    """An error the CLI prints as one line, without a traceback."""


class InputError(WspError):
    """Bad input: ``path`` is the file at fault, ``problem`` says what is wrong with it.

    Built from one string (as PyTorch's DataLoader rebuilds an error raised in a worker, with the
    worker's traceback in the text), it keeps the original error's own line.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str | None = None) -> None:
        if problem is None:
            line = str(path).strip().splitlines()[-1] if str(path).strip() else str(path)
            line = line.split("InputError: ", 1)[-1]
            path, _, problem = line.partition(": ")
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class BadValue(InputError, ValueError):
    """A value a user gave that is not allowed (a verdict, a reason, a filter, a queue, a
    protocol, a form field): ``path`` names the value, ``problem`` says what is wrong. The
    project's error type, so the CLI and the app catch one type (:class:`WspError`); still a
    ValueError for code that validates values."""


class StoreError(InputError):
    """The label store cannot be opened or does not hold what was asked for."""


class ReviewConflict(StoreError):
    """A review written on condition that the pair's latest review is a given one (an undo, a
    redo) found another: somebody changed the pair since, and their verdict stands."""
