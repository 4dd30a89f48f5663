"""Every write of data in and out: one module per area (importing, exporting, merging)."""
