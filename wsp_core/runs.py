"""Training runs read back from their folders, to compare them: each run's resolved config and
per-epoch rows (``metrics.jsonl``, the source of truth), the measures they share, each one's
curve, and the config keys on which they differ. Torch-free: the app's Jobs tab uses it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError

#: Rows of metrics.jsonl that are not measures to plot.
NOT_MEASURES = ("epoch", "time_s", "lr")


@dataclass(frozen=True)
class Run:
    folder: Path
    kind: str
    config: dict[str, Any]
    epochs: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return self.folder.name


def metrics_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl; a line that is not a JSON object (the partial last line of
    a killed run) is left out."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int):
            rows.append(row)
    return rows


def read_run(folder: Path) -> Run:
    """A run folder's config.json and metrics.jsonl; InputError when it is not a run folder."""
    folder = Path(folder)
    path = folder / "config.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(folder, "not a run folder (no config.json)") from None
    except (OSError, ValueError) as e:
        raise InputError(path, f"unreadable ({e})") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise InputError(path, "not a run's config.json (no config)")
    return Run(folder, str(record.get("kind", "?")), record["config"],
               metrics_rows(folder / "metrics.jsonl"))


def measures(runs: list[Run]) -> list[str]:
    """The numeric measures of the runs' epoch rows, those every run has first."""
    counts: dict[str, int] = {}
    for run in runs:
        names = {k for row in run.epochs for k, v in row.items()
                 if k not in NOT_MEASURES and isinstance(v, (int, float))
                 and not isinstance(v, bool)}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def curve(run: Run, measure: str) -> tuple[list[int], list[float]]:
    """(epochs counted from 1, values) of one measure: the epochs that have a finite value."""
    xs, ys = [], []
    for row in run.epochs:
        value = row.get(measure)
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value):
            xs.append(row["epoch"] + 1)
            ys.append(float(value))
    return xs, ys


def config_table(runs: list[Run]) -> list[tuple[str, list[str], bool]]:
    """Every config key of any run: (key, each run's value as text, whether they differ).
    A key a run does not have reads "—"."""
    keys = sorted({k for run in runs for k in run.config})
    table = []
    for key in keys:
        values = [_text(run.config[key]) if key in run.config else "—" for run in runs]
        table.append((key, values, len(set(values)) > 1))
    return table


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
