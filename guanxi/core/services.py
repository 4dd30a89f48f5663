"""Core owns no domain writes; shared write helpers live in `history` and `attributes`."""
