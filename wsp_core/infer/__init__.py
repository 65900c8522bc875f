"""Prediction on your own images and videos without PyTorch: crops, person detectors, the
camera (focal length, root depth), frames of a folder or video, the ONNX Runtime pose network,
and decoding its output to root-relative and camera-space joints. The GUI predicts in-process
with these; the torch back end (:mod:`wsp_core.train.photo`) plugs into the same pipeline.
Nothing here imports torch (a contract in pyproject.toml)."""
