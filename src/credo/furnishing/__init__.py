"""Furnishing: the Credo format v1, validation, batches and quarantine."""
