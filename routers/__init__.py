"""Routing: one RouterRunnable composed of small policies (one module each in ``policies/``)."""
