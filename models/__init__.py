"""Model service: the catalog, the runtime registry and one adapter per provider protocol."""
