"""Authentication on the hot path: the kernel's API keys, with a short-lived in-process cache.

Resolving a key costs three queries (key, principal, role bindings). At gateway rates that is too
many, so resolved principals are kept for ``ttl_s`` seconds (default 2 s) keyed by the key's
HMAC: a revoked key or a disabled principal stops working within ``ttl_s`` on every gateway
process, not instantly. Failed lookups are never cached. Concurrent misses on one key share one
lookup (at a thousand requests a second an expiry would otherwise send every request in flight
to the database at once).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from inference.gateway.singleflight import SingleFlight
from services.kernel.auth import Principal, TokenHasher, authenticate, extract_token
from services.kernel.db import Database


class PrincipalCache:
    """Resolve bearer tokens to principals, caching successes for ``ttl_s`` seconds."""

    def __init__(
        self,
        *,
        database: Database,
        secret: str,
        ttl_s: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._secret = secret
        self._hasher = TokenHasher(secret)
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._lookups: SingleFlight[str, Principal] = SingleFlight()

    async def resolve(self, *, authorization: str | None, api_key: str | None) -> Principal:
        """The principal of the request's key; raises the kernel's ``Unauthorized``."""
        token = extract_token(authorization, api_key)
        digest = self._hasher.hash(token)
        now = self._clock()
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._lookups.run(digest, lambda: self._lookup(token))
        self._entries[digest] = (now + self._ttl_s, principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return principal

    async def _lookup(self, token: str) -> Principal:
        async with self._database.sessionmaker() as session:
            return await authenticate(session, token=token, secret=self._secret)

    def forget_all(self) -> None:
        """Drop every cached principal (after a revocation in this process)."""
        self._entries.clear()
