"""HTTP plumbing of the gateway: request schemas, errors, authentication, limits, rendering."""
