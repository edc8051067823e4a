"""VM rightsizing from usage percentiles (cloud__rightsize_vm)."""
