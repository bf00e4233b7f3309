"""Bundled example cases (see cases/README.md)."""
