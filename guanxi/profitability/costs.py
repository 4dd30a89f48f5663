"""Where service-ticket counts come from: a hook until a ticket (work order) app exists.

A later `service` app calls `register_ticket_counter` from its `AppConfig.ready` with a function
returning tickets per customer (`("a", account_id)` / `("p", person_id)` → count), ideally one
grouped query. With no counter registered every customer has 0 tickets, and the ticket cost
setting is kept but costs nothing.
"""

from collections.abc import Callable, Mapping

CustomerKey = tuple[str, int]
TicketCounter = Callable[[], Mapping[CustomerKey, int]]

_counters: list[TicketCounter] = []


def register_ticket_counter(counter: TicketCounter) -> None:
    if counter not in _counters:
        _counters.append(counter)


def unregister_ticket_counter(counter: TicketCounter) -> None:
    if counter in _counters:
        _counters.remove(counter)


def ticket_counts() -> dict[CustomerKey, int]:
    """Tickets per customer summed over every registered counter (none yet: empty)."""
    counts: dict[CustomerKey, int] = {}
    for counter in _counters:
        for key, n in counter().items():
            counts[key] = counts.get(key, 0) + int(n)
    return counts
