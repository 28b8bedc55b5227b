"""Decoding, operations, encoding and limits, on Pillow-SIMD."""
