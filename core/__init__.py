"""Shared foundations: settings (where state and config live) and the error hierarchy."""
