"""Evaluation: the field's metrics (``metrics``: relative depth and 3D pose) and the ranking
quality of label-noise scores (``ranking``)."""
