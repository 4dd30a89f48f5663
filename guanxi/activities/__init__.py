"""Follow-up records, tasks, follow-up plans and the shared pool's reclaim rules."""
