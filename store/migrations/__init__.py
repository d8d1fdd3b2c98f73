"""Alembic migration scripts for the register (package data: shipped with the code)."""
