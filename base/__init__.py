"""The cross-cutting base under every stage: errors, paths, signals, child processes, temporary folders, progress,
quiet native output, the cache folder, JSON shapes, .tflite reading and repair, and interpreter runs in child
processes. It imports nothing else of mnd, so pipeline/, quantize/, engine/ and targets/ all build on it."""
