"""Training (WSP pre-training, 3D fine-tuning), its data, checkpoints and evaluation of trained
models: the only part of the core, with :mod:`wsp_core.models`, that imports torch."""
