"""Credo."""
