"""Pod-to-node bin packing and consolidation (cloud__plan_bin_packing)."""
