"""Every write of the tracking app: sources and keys, landing, processing, merges.

One module per concern; views, the API, the ingestion endpoints, tasks and commands import the
functions from here.
"""

from guanxi.tracking.services.landing import LandingResult, land_messages
from guanxi.tracking.services.processing import process_landed_events, process_pending_joins, undo_profile_merge
from guanxi.tracking.services.sources import authenticate_write_key, create_source, revoke_source, update_source

__all__ = [
    "LandingResult",
    "authenticate_write_key",
    "create_source",
    "land_messages",
    "process_landed_events",
    "process_pending_joins",
    "revoke_source",
    "undo_profile_merge",
    "update_source",
]
