"""Every write of the tracking app: sources and keys, tracking plans, landing, processing (with
sessions and computed traits), merges.

One module per concern; views, the API, the ingestion endpoints, tasks and commands import the
functions from here.
"""

from guanxi.tracking.services.landing import LandingResult, land_for_write_key, land_messages, unpack_batches
from guanxi.tracking.services.plans import clear_plan_report, export_tracking_plan, save_tracking_plan
from guanxi.tracking.services.processing import (
    DEFAULT_BATCH_SIZE,
    process_landed_events,
    process_pending_joins,
    rebuild_computed_traits,
    undo_profile_merge,
)
from guanxi.tracking.services.sources import authenticate_write_key, create_source, revoke_source, update_source

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "LandingResult",
    "authenticate_write_key",
    "clear_plan_report",
    "create_source",
    "export_tracking_plan",
    "land_for_write_key",
    "land_messages",
    "process_landed_events",
    "process_pending_joins",
    "rebuild_computed_traits",
    "revoke_source",
    "save_tracking_plan",
    "undo_profile_merge",
    "unpack_batches",
    "update_source",
]
