"""Behaviour tracking: sources and write keys, event landing, processing, identity."""
