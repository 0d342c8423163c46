"""Where a model comes from: registry name, run directory, Keras file, .tflite (read and repaired by base/tflite/)."""
