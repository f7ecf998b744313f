"""The gateway's own upstream HTTP/1.1 client (asyncio + httptools), used on the hot path.

httpx costs about a millisecond of CPU per proxied request and its pool scans every connection
on each request; this client keeps keep-alive connections per upstream and parses with
httptools. It is used for ``http://`` replicas when ``STIC_GATEWAY_UPSTREAM_CLIENT=native`` (the
default); ``https://`` replicas, and every upstream with ``httpx``, go through httpx. Replicas
whose service says ``protocol: h2c`` are called over HTTP/2 cleartext (prior knowledge), many
streams per connection (:mod:`inference.gateway.upstream.h2pool`).
"""

from inference.gateway.upstream.client import NativeOpenAIClient, parse_api_base, supports
from inference.gateway.upstream.connection import UpstreamError, UpstreamTimeout
from inference.gateway.upstream.h2pool import H2Pool, H2Response
from inference.gateway.upstream.pool import UpstreamHTTPResponse, UpstreamPool

__all__ = [
    "H2Pool",
    "H2Response",
    "NativeOpenAIClient",
    "UpstreamError",
    "UpstreamHTTPResponse",
    "UpstreamPool",
    "UpstreamTimeout",
    "parse_api_base",
    "supports",
]
