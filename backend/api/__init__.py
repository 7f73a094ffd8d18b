"""The HTTP API: one blueprint per resource, errors mapped in ``problems``."""
