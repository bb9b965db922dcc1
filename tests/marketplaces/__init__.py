"""Tests of the marketplace side: channels, the sandbox marketplace and the outbox worker."""
