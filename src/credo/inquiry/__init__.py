"""Inquiries: who looked at a subject's file, when and why."""
