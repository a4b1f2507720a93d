"""Fixtures for the compat workflows: a real Redis on a free loopback port."""

from __future__ import annotations

from fixtures.redis_server import redis_server

__all__ = ["redis_server"]
