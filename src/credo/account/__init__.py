"""Accounts (tradelines) and their monthly status records."""
