"""Data subjects (persons and enterprises) and identity resolution."""
