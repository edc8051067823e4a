"""Anomaly detection in usage/cost series (cloud__detect_anomalies)."""
