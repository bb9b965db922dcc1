"""Keeping the hub and the marketplaces in step: the outbox worker (``worker``) pushes what the domains queued
through the channels, and pulls the marketplaces' orders (``pull``, ``feeds``, ``order_feed``, ``translate``)."""
