"""`mnd analyze`: what an int8 .tflite costs and whether it fits a part, in seconds, without an emulator."""
