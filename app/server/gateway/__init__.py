"""The framework-free gateway core: keys, cache, metrics, settings and the state one app holds."""
