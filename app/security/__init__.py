"""Roles and per-community isolation."""
