"""ONNX Runtime sessions (CPU), and the exported 3D pose network as a
:class:`~wsp_core.infer.pose.PoseNetwork` (no torch: the GUI predicts with it in-process).

``wsp-core export-onnx`` writes, beside the graph, metadata this reader needs: ``wsp.kind``
(finetune or pretrain), ``wsp.input_size``, ``wsp.depth_bins``, ``wsp.joints`` (comma-separated
names), ``wsp.checkpoint`` (the file it came from)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

#: The metadata keys export-onnx writes.
META_PREFIX = "wsp."


def session(path: Path, threads: int = 0):
    """An ONNX Runtime inference session on the CPU; one clear line when the file is not a
    readable ONNX model or ONNX Runtime is missing. ``threads`` 0: ONNX Runtime's default."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(path, "ONNX Runtime is not installed: pip install onnxruntime "
                               "(or 'wsp-studio[onnx]')") from None
    if not Path(path).is_file():
        raise InputError(path, "no such ONNX file")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises its own unexported exception types
        raise InputError(path, f"not a model ONNX Runtime can run ({str(e).splitlines()[0]})") \
            from None


def wsp_metadata(sess) -> dict[str, str]:
    """The ``wsp.*`` metadata of a session's model, without the prefix."""
    meta = sess.get_modelmeta().custom_metadata_map
    return {k[len(META_PREFIX):]: v for k, v in meta.items() if k.startswith(META_PREFIX)}


class OnnxPoseNetwork:
    """A fine-tuned 3D pose network exported by ``wsp-core export-onnx``."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        self.path = Path(path)
        self.session = session(self.path, threads)
        meta = wsp_metadata(self.session)
        if meta.get("kind") != "finetune":
            what = f"a {meta['kind']} network" if meta.get("kind") else \
                "not exported by wsp-core export-onnx (no wsp.kind metadata)"
            raise InputError(path, f"{what}; predicting 3D poses needs a fine-tuned (3D) one")
        try:
            self.input_size, self.depth_bins = int(meta["input_size"]), int(meta["depth_bins"])
        except (KeyError, ValueError):
            raise InputError(path, "its wsp.input_size or wsp.depth_bins metadata is missing") \
                from None
        self.input_name = self.session.get_inputs()[0].name
        self.source = str(self.path)

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: crops.astype(np.float32)})[0]
