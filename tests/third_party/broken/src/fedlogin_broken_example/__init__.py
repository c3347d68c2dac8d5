"""Deliberately broken plugins (see pyproject.toml)."""
