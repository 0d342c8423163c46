"""Interpreter runs (LiteRT, TFLite-Micro, ONNX Runtime) in child processes, and their inputs."""
