"""WSP Studio's engine: labels, store, training and evaluation. Never imports Qt."""

__version__ = "0.1.0"
