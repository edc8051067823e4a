"""OpenCost-style cost allocation (cloud__allocate_costs)."""
