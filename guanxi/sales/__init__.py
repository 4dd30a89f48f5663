"""Pipelines, opportunities, the kanban board, forecast and quotes."""
