"""Tests of dataeval_gpu.functional."""
