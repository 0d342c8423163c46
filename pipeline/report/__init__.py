"""Reports written from a manifest."""
