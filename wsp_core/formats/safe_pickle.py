"""Loading pickles that should hold numpy data only, without running anything else.

Python's unpickler imports and calls whatever a file names; a dataset file from the internet must
not be trusted with that. This unpickler allows the few numpy callables that rebuild arrays and
dtypes, and refuses every other global with an InputError naming the file.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise InputError(self.path, f"refused: the pickle asks for {module}.{name}; only "
                                        "numpy arrays are allowed") from None


def load_numpy_pickle(path: str | Path) -> Any:
    """Unpickle a file that may contain only containers of numpy arrays and plain values."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), path).load()
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - any damage is the file's
        raise InputError(path, f"not a readable pickle ({type(e).__name__}: {e})") from None
