"""Shared by every cloud tool: the answer envelope, the instance catalog and usage-series input."""
