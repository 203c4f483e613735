"""Tests of dataeval_gpu.accumulators."""
