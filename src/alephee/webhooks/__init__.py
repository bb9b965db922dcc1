"""Push notifications: webhook subscriptions, the per-account event feed, and delivery by the outbox worker.

``events`` (what the domains call), ``sender`` (what the worker calls), ``service``/``routes`` (the API).
"""
