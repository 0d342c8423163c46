"""Android phones over adb: mnd's C engine and LiteRT's benchmark_model."""
