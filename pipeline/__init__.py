"""mnd: take a MobileNet v1 from training to int8 artifacts with measured accuracy and latency."""

__version__ = "0.1.0"
