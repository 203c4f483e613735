"""Tests of dataeval_gpu.detectors."""
