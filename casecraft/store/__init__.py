"""Persistence: SQLAlchemy models, engines per dialect, queries."""
