"""Shared state for replicas: the store backends (embedded, Redis/PostgreSQL) and what lives on them."""
