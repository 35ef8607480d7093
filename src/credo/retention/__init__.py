"""Retention of negative data: what has expired, and the job that erases it."""
