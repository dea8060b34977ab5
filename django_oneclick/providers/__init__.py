"""Providers: one module each, a shared base, and the registry that builds them from settings."""
