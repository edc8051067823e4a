"""Container requests/limits, VPA-style (cloud__recommend_container_resources)."""
