"""Persistence: SQLite files under the data folder (registry, request log, feedback)."""
