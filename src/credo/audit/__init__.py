"""Tamper-evident audit ledger."""
