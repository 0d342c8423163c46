"""A .tflite flatbuffer read through the schema tflite-micro ships (read.py), and its known defects repaired
(repair.py)."""
