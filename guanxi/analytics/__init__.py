"""The Django side of analytics: runs, stored results, the dashboard."""
