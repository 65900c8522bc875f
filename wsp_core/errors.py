"""Errors a user can act on: each names the file (or store) and the problem in one line."""

from __future__ import annotations

import os


class WspError(Exception):
    """An error the CLI prints as one line, without a traceback."""


class InputError(WspError):
    """Bad input: ``path`` is the file at fault, ``problem`` says what is wrong with it."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StoreError(InputError):
    """The label store cannot be opened or does not hold what was asked for."""
