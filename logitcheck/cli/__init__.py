"""Thin click layer: commands and shared options -> API -> render -> exit code."""
