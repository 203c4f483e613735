"""Tests of dataeval_gpu.report."""
