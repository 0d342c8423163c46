"""Datasets: built-in and on-disk formats, images, preprocessing, the calibration/evaluation plan."""
