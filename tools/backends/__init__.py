"""Backends the tools run on: SAM2 (real weights) and a classic, weight-free OpenCV backend."""
