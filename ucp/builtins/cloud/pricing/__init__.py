"""Instance prices from the shipped catalog snapshots (cloud__lookup_instance_prices)."""
