"""Alembic migrations of the fedlogin schema (run through fedlogin.store.migrate)."""
