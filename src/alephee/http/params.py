"""Bounds for integer parameters: ids are 32-bit in the database, so a larger number is a client error (400),
never an overflow deep in the driver."""

from __future__ import annotations

MAX_INT32 = 2_147_483_647
MAX_INT64 = 9_223_372_036_854_775_807
