"""Leads: capture, assignment, scoring and conversion."""
