"""A JSON object whose big top-level lists are handed over one element at a time.

``parse_streaming(text, sinks)`` parses ``text`` as ``json.loads`` does (same values, same
``JSONDecodeError`` messages and positions), except that the elements of a top-level list whose
key is in ``sinks`` are passed to ``sinks[key]`` as soon as each is parsed and are not kept: a
reader turns each into compact rows, so the whole parsed file is never in memory at once
(import memory: docs/BENCHMARKS.md). Such a key's value in the result is :class:`Streamed`.
Elements are parsed by the json module's C scanner; only the two outer levels are walked here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from json.decoder import WHITESPACE, JSONDecodeError, scanstring
from typing import Any

_DECODER = json.JSONDecoder()
_skip = WHITESPACE.match


@dataclass
class Streamed:
    """The value of a streamed key: a list whose ``count`` elements went to its sink."""

    count: int


class RepeatedKey(ValueError):
    """A streamed key given twice in the object (json.loads would silently keep the last)."""

    def __init__(self, key: str):
        super().__init__(f"top-level key {key!r} appears twice")


def parse_streaming(text: str, sinks: dict[str, Callable[[Any], None]]) -> Any:
    """``json.loads(text)``, with the elements of the top-level lists named in ``sinks`` passed
    to their sink instead of kept. A text that is not an object is parsed whole."""
    end = _skip(text, 0).end()
    if text[end:end + 1] != "{":
        return json.loads(text)
    out: dict[str, Any] = {}
    end = _skip(text, end + 1).end()
    if text[end:end + 1] == "}":
        return _finish(text, end + 1, out)
    while True:
        if text[end:end + 1] != '"':
            raise JSONDecodeError("Expecting property name enclosed in double quotes", text, end)
        key, end = scanstring(text, end + 1)
        end = _skip(text, end).end()
        if text[end:end + 1] != ":":
            raise JSONDecodeError("Expecting ':' delimiter", text, end)
        end = _skip(text, end + 1).end()
        if key in sinks and text[end:end + 1] == "[":
            if isinstance(out.get(key), Streamed):
                raise RepeatedKey(key)
            out[key], end = _stream_list(text, end + 1, sinks[key])
        else:
            out[key], end = _DECODER.raw_decode(text, end)
        end = _skip(text, end).end()
        if text[end:end + 1] == "}":
            return _finish(text, end + 1, out)
        if text[end:end + 1] != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, end)
        end = _skip(text, end + 1).end()


def _stream_list(text: str, end: int, sink: Callable[[Any], None]) -> tuple[Streamed, int]:
    """The list starting after its ``[`` at ``end``: each element to ``sink``."""
    count = 0
    end = _skip(text, end).end()
    if text[end:end + 1] == "]":
        return Streamed(0), end + 1
    while True:
        value, end = _DECODER.raw_decode(text, end)
        sink(value)
        count += 1
        end = _skip(text, end).end()
        if text[end:end + 1] == "]":
            return Streamed(count), end + 1
        if text[end:end + 1] != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, end)
        end = _skip(text, end + 1).end()


def _finish(text: str, end: int, out: dict[str, Any]) -> dict[str, Any]:
    end = _skip(text, end).end()
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return out
