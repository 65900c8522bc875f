"""Evaluation: ranking quality of label-noise scores now; the field's 3D and relative-depth
metrics arrive with the training issues."""
