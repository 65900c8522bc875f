"""Keys a curator can remap: a TOML file keyed by the actions' names (wsp_app/actions.py).

```toml
# ~/.config/wsp-studio/keys.toml
accept = ["J", "Space"]     # one key or a list; [] leaves the action without a key
flip = "K"
next = ["L", "Right"]
```

Actions the file does not name keep their default keys. The file is read when the window
opens; a file that names an unknown action, a key Qt cannot read, or one key for two actions
is refused whole, with one line naming the file and the problem, and the defaults apply.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from PySide6.QtGui import QKeySequence

from wsp_core.errors import InputError

from .actions import ACTIONS, BLIND_ACTIONS, PAIR_GROUPS, SPECS

Keymap = dict[str, tuple[str, ...]]


def keys_file() -> Path:
    """Where the window looks for the file: ``WSP_KEYS``, else ``keys.toml`` in the user's
    configuration folder."""
    override = os.environ.get("WSP_KEYS")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("wsp-studio", appauthor=False)) / "keys.toml"


def default_keymap() -> Keymap:
    return {spec.name: spec.shortcuts for spec in ACTIONS}


def portable(key: str) -> str:
    """A key as Qt writes it ("ctrl+z" → "Ctrl+Z"); "" when Qt cannot read it."""
    sequence = QKeySequence(key)
    if sequence.isEmpty() or sequence.count() != 1:
        return ""
    return sequence.toString(QKeySequence.SequenceFormat.PortableText)


def load_keymap(path: Path | None) -> Keymap:
    """The defaults with the file's keys over them (no file, or None: the defaults).

    Raises InputError naming the file and the first problem: not TOML, an unknown action, a
    value that is not a key or a list of keys, a key Qt cannot read, a key on two actions."""
    keys = default_keymap()
    if path is None or not Path(path).exists():
        return keys
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(path, f"not a keys file: {e}") from None
    for name, value in data.items():
        if name not in SPECS:
            raise InputError(path, f"no action named {name!r} (the names are listed in the "
                                   "Help menu's keyboard shortcuts and docs/CURATION.md)")
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InputError(path, f"{name}: a key (\"K\") or a list of keys ([\"K\", \"Right\"]) "
                                   f"expected, not {value!r}")
        read = []
        for key in values:
            as_qt = portable(key)
            if not as_qt:
                raise InputError(path, f"{name}: {key!r} is not a key Qt can read "
                                       "(examples: \"K\", \"Shift+D\", \"Ctrl+Z\", \"PgDown\")")
            read.append(as_qt)
        keys[name] = tuple(read)
    _check_conflicts(path, keys, set(data))
    return keys


def _apart(one: str, other: str) -> bool:
    """Two actions that may share a key: a blind answer and a pair action (the blind mode takes
    the key while it is on, wsp_app/window.py)."""
    def pair_action(name: str) -> bool:
        return SPECS[name].group in PAIR_GROUPS and name not in BLIND_ACTIONS
    return (one in BLIND_ACTIONS and pair_action(other)) or \
        (other in BLIND_ACTIONS and pair_action(one))


def _check_conflicts(path: Path, keys: Keymap, named: set[str]) -> None:
    owners: dict[str, list[str]] = {}
    for name, shortcuts in keys.items():
        for key in shortcuts:
            holders = owners.setdefault(portable(key), [])
            other = next((h for h in holders if h != name and not _apart(h, name)), name)
            holders.append(name)
            if other != name:
                def whose(n: str) -> str:
                    return n if n in named else f"{n} (by default)"
                raise InputError(path, f"the key {portable(key)} is given to both "
                                       f"{whose(other)} and {whose(name)}; give one of them "
                                       "another key")
