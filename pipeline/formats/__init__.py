"""Artifact writers: one module per output format, each a small pure function of the model file."""
