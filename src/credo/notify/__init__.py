"""Notices to subjects and institutions: an outbox in the database, delivered by a channel."""
