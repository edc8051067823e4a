"""Spot pool advice from the Spot Instance Advisor snapshot (cloud__recommend_spot)."""
