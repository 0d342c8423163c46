"""int8 post-training quantization: calibration data in, per-channel int8 TFLite out."""
