"""REST API for customer records: accounts, people, roles, relationships, tags, custom attributes."""
