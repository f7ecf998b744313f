"""httpx transports that speak the envelope protocol, so the official ``openai`` SDK works unchanged::

    transport = SyncSecureTransport(server_fingerprint=FINGERPRINT)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, http_client=httpx.Client(transport=transport))

(``SecureTransport`` + ``httpx.AsyncClient`` + ``openai.AsyncOpenAI`` for asyncio.)

For a POST to a covered path the transport, on first use (and again before the session's TTL
runs out): fetches ``GET <prefix>/v1/secure/key``, refuses a key whose SM3 fingerprint is not the
pinned one, runs the SM2 exchange at ``POST <prefix>/v1/secure/sessions`` with the request's own
API key, and checks the gateway's confirmation S_B. It then seals the body, opens the sealed
response, and for streams yields each decrypted event as soon as it arrives, refusing a chunk out
of order, a forged or missing chunk, or a stream that ends without its authenticated end marker.
Sessions are kept per (gateway, API key). An ``envelope_session_unknown/expired`` answer (the
gateway restarted, or another replica answered) makes it handshake again and resend once. Other
requests pass through untouched.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field

import httpx

from inference.engines.sse import SSEDecoder
from inference.gateway.secure.envelope import CONTENT_TYPE, Binding, Direction, Envelope, SessionCipher
from inference.gateway.secure.errors import (
    RETRYABLE_SESSION_CODES,
    EnvelopeError,
    SecureChannelError,
    ServerKeyMismatch,
)
from inference.gateway.secure.handshake import ClientHandshake
from inference.gateway.secure.middleware import DEFAULT_PATHS, ENVELOPE_HEADER
from inference.gateway.secure.sessions import owner_digest, token_from_headers
from security.crypto import CryptoError, SM2PrivateKey, SM2PublicKey

KEY_PATH = "/v1/secure/key"
SESSIONS_PATH = "/v1/secure/sessions"
_HANDSHAKE_FAILURES_PASSED_THROUGH = frozenset({401, 403, 429, 503})
_DROPPED_HEADERS = ("content-type", "content-length", "content-encoding", ENVELOPE_HEADER.decode())


@dataclass(slots=True)
class ClientSession:
    """A session as the client holds it: keys, local deadline, and its request counter."""

    id: str
    cipher: SessionCipher = field(repr=False)
    deadline: float
    _next_seq: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_seq(self) -> int:
        """A fresh request sequence number (thread-safe)."""
        with self._lock:
            seq, self._next_seq = self._next_seq, self._next_seq + 1
        return seq


@dataclass(frozen=True, slots=True)
class _Sealed:
    request: httpx.Request
    binding: Binding
    session: ClientSession


class StreamOpener:
    """Decrypts one encrypted SSE response incrementally (``feed`` raw bytes, ``finish`` at the end)."""

    def __init__(self, cipher: SessionCipher, binding: Binding) -> None:
        self._cipher = cipher
        self._binding = binding
        self._decoder = SSEDecoder()
        self._next_chunk = 0
        self._finished = False

    def feed(self, raw: bytes) -> bytes:
        """The plain SSE bytes of the events completed by ``raw``; raises :class:`SecureChannelError`."""
        out = bytearray()
        for event in self._decoder.feed(raw):
            if self._finished:
                raise SecureChannelError("encrypted stream: data after the authenticated end marker")
            try:
                envelope = Envelope.from_json(event.data)
            except EnvelopeError as exc:
                raise SecureChannelError(f"encrypted stream: bad event ({exc.message})") from None
            expected = self._next_chunk
            if envelope.chunk != expected:
                raise SecureChannelError(
                    f"encrypted stream: chunk {envelope.chunk} arrived where chunk {expected} was due "
                    "(reordered, dropped or injected)"
                )
            request = self._binding
            binding = Binding(
                request.method,
                request.path,
                request.session_id,
                request.seq,
                request.status,
                expected,
                envelope.final,
            )
            try:
                plaintext = self._cipher.open(Direction.RESPONSE, binding, envelope)
            except EnvelopeError:
                raise SecureChannelError(
                    f"encrypted stream: chunk {expected} failed authentication"
                ) from None
            self._next_chunk += 1
            if envelope.final:
                self._finished = True
            else:
                out += plaintext + b"\n\n"
        return bytes(out)

    def finish(self) -> None:
        """Raise unless the authenticated end marker arrived (the stream was not truncated)."""
        if not self._finished:
            raise SecureChannelError(
                f"encrypted stream ended after {self._next_chunk} chunks without its end marker: truncated"
            )


class _SecureClientCore:
    """Everything the two transports share that does no I/O."""

    def __init__(
        self,
        *,
        server_fingerprint: str,
        paths: Iterable[str],
        client_key: SM2PrivateKey | None,
        refresh_margin_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.fingerprint = server_fingerprint.strip().lower()
        self.paths = tuple(paths)
        self.client_key = client_key
        self.refresh_margin_s = refresh_margin_s
        self.clock = clock
        self.server_keys: dict[str, tuple[SM2PublicKey, bytes]] = {}
        self.sessions: dict[tuple[str, bytes], ClientSession] = {}

    def route(self, request: httpx.Request) -> tuple[str, str] | None:
        """(URL prefix, covered path) for a covered request, else None.

        The covered path, not the full URL path, enters the AAD, so a proxy that strips a prefix
        in front of the gateway does not break the binding.
        """
        if request.method != "POST":
            return None
        path = request.url.path
        for covered in self.paths:
            if path.endswith(covered):
                return path[: -len(covered)], covered
        return None

    @staticmethod
    def origin(request: httpx.Request, prefix: str) -> str:
        url = request.url
        return f"{url.scheme}://{url.netloc.decode()}{prefix}"

    @staticmethod
    def owner(request: httpx.Request) -> bytes:
        token = token_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
        return owner_digest(token or "")

    def live_session(self, base: str, owner: bytes) -> ClientSession | None:
        session = self.sessions.get((base, owner))
        if session is not None and session.deadline > self.clock():
            return session
        return None

    def forget(self, base: str, owner: bytes, session: ClientSession) -> None:
        if self.sessions.get((base, owner)) is session:
            del self.sessions[(base, owner)]

    @staticmethod
    def key_request(request: httpx.Request, base: str) -> httpx.Request:
        """``GET /v1/secure/key`` with the caller's request options (timeouts)."""
        return httpx.Request(
            "GET", base + KEY_PATH, headers={"accept": "application/json"}, extensions=request.extensions
        )

    def accept_key(self, base: str, response: httpx.Response) -> tuple[SM2PublicKey, bytes]:
        if response.status_code != 200:
            raise SecureChannelError(f"GET {KEY_PATH} answered {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
            public = SM2PublicKey.from_bytes(base64.b64decode(data["public_key"], validate=True))
            uid = str(data["uid"]).encode()
        except (ValueError, KeyError, TypeError, binascii.Error, CryptoError) as exc:
            raise SecureChannelError(f"GET {KEY_PATH}: unusable key document ({exc})") from None
        got = public.fingerprint()
        if not hmac.compare_digest(got, self.fingerprint):
            raise ServerKeyMismatch(
                f"gateway key fingerprint {got} is not the pinned {self.fingerprint}: refusing to send"
            )
        self.server_keys[base] = (public, uid)
        return public, uid

    def session_request(self, request: httpx.Request, base: str, handshake: ClientHandshake) -> httpx.Request:
        headers = {k: v for k, v in request.headers.items() if k in ("authorization", "x-api-key")}
        body = {
            "client_public_key": base64.b64encode(handshake.client_public).decode(),
            "client_ephemeral": base64.b64encode(handshake.client_ephemeral).decode(),
            "client_uid": handshake.client_uid.decode(),
        }
        return httpx.Request(
            "POST", base + SESSIONS_PATH, headers=headers, json=body, extensions=request.extensions
        )

    def handshake(self, base: str) -> ClientHandshake:
        public, uid = self.server_keys[base]
        return ClientHandshake(server_public=public, server_uid=uid, client_key=self.client_key)

    def accept_session(
        self, base: str, owner: bytes, handshake: ClientHandshake, response: httpx.Response, started: float
    ) -> ClientSession:
        try:
            data = response.json()
            session_id = str(data["session_id"])
            keys = handshake.complete(
                server_ephemeral=base64.b64decode(data["server_ephemeral"], validate=True),
                confirmation=base64.b64decode(data["confirmation"], validate=True),
            )
            ttl = float(data["ttl_s"])
        except CryptoError as exc:
            raise SecureChannelError(f"handshake: the gateway failed SM2 key confirmation ({exc})") from None
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SecureChannelError(f"handshake: unusable answer ({exc})") from None
        cipher = SessionCipher(
            session_id=session_id,
            client_to_server=keys.client_to_server,
            server_to_client=keys.server_to_client,
        )
        margin = min(self.refresh_margin_s, ttl / 10)
        session = ClientSession(session_id, cipher, started + ttl - margin)
        self.sessions[(base, owner)] = session
        return session

    @staticmethod
    def seal(request: httpx.Request, covered: str, session: ClientSession) -> _Sealed:
        seq = session.next_seq()
        binding = Binding(request.method, covered, session.id, seq)
        envelope = session.cipher.seal(Direction.REQUEST, binding, request.content)
        headers = httpx.Headers(request.headers)
        for name in ("content-length", "content-type", "transfer-encoding"):
            headers.pop(name, None)
        headers["content-type"] = CONTENT_TYPE
        sealed = httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=envelope.to_json(),
            extensions=request.extensions,
        )
        return _Sealed(sealed, binding, session)

    @staticmethod
    def response_binding(sealed: _Sealed, status: int) -> Binding:
        b = sealed.binding
        return Binding(b.method, b.path, b.session_id, b.seq, status)

    @staticmethod
    def kind(response: httpx.Response) -> str:
        """'envelope', 'stream', or 'plain' (an answer the middleware did not seal)."""
        if response.headers.get(ENVELOPE_HEADER.decode()) is None:
            return "plain"
        content_type = response.headers.get("content-type", "")
        return "stream" if content_type.startswith("text/event-stream") else "envelope"

    @staticmethod
    def plain_headers(response: httpx.Response, content_type: str) -> list[tuple[str, str]]:
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
        return [*kept, ("content-type", content_type)]

    def open_body(self, request: httpx.Request, sealed: _Sealed, response: httpx.Response) -> httpx.Response:
        binding = self.response_binding(sealed, response.status_code)
        try:
            envelope = Envelope.from_json(response.content)
            if envelope.session_id != binding.session_id or envelope.seq != binding.seq:
                raise SecureChannelError("encrypted response names another session or sequence")
            plaintext = sealed.session.cipher.open(Direction.RESPONSE, binding, envelope)
        except EnvelopeError as exc:
            raise SecureChannelError(f"encrypted response rejected: {exc.message}") from None
        return httpx.Response(
            response.status_code,
            headers=self.plain_headers(response, "application/json"),
            content=plaintext,
            extensions=response.extensions,
            request=request,
        )

    def stream_response(
        self,
        request: httpx.Request,
        response: httpx.Response,
        stream: httpx.SyncByteStream | httpx.AsyncByteStream,
    ) -> httpx.Response:
        return httpx.Response(
            response.status_code,
            headers=self.plain_headers(response, response.headers["content-type"]),
            stream=stream,
            extensions=response.extensions,
            request=request,
        )

    def opener(self, sealed: _Sealed, status: int) -> StreamOpener:
        return StreamOpener(sealed.session.cipher, self.response_binding(sealed, status))

    @staticmethod
    def session_lost(response: httpx.Response) -> bool:
        """True for a clear-text ``envelope_session_unknown/expired`` answer."""
        if response.status_code != 401:
            return False
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return False
        return code in RETRYABLE_SESSION_CODES

    @staticmethod
    def refuse_plain(response: httpx.Response) -> None:
        """A success in clear text to an encrypted request is a downgrade: refuse it."""
        if response.status_code < 400:
            raise SecureChannelError(
                f"the gateway answered an encrypted request with an unencrypted {response.status_code}"
            )


class _SyncOpeningStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, opener: StreamOpener) -> None:
        self._inner = inner
        self._opener = opener

    def __iter__(self) -> Iterator[bytes]:
        for raw in self._inner:
            plain = self._opener.feed(raw)
            if plain:
                yield plain
        self._opener.finish()

    def close(self) -> None:
        self._inner.close()


class _AsyncOpeningStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, opener: StreamOpener) -> None:
        self._inner = inner
        self._opener = opener

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for raw in self._inner:
            plain = self._opener.feed(raw)
            if plain:
                yield plain
        self._opener.finish()

    async def aclose(self) -> None:
        await self._inner.aclose()


class SyncSecureTransport(httpx.BaseTransport):
    """Blocking transport for ``httpx.Client`` / ``openai.OpenAI`` (see the module docstring).

    ``server_fingerprint`` is the SM3 hex fingerprint served at ``GET /v1/secure/key`` and
    obtained out of band; ``inner`` is the transport that does the I/O (default
    ``httpx.HTTPTransport()``); ``client_key`` an optional long-term client SM2 key. A session
    is replaced ``refresh_margin_s`` (at most a tenth of its TTL) before it expires, by ``clock``.
    """

    def __init__(
        self,
        *,
        server_fingerprint: str,
        inner: httpx.BaseTransport | None = None,
        paths: Iterable[str] = DEFAULT_PATHS,
        client_key: SM2PrivateKey | None = None,
        refresh_margin_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = _SecureClientCore(
            server_fingerprint=server_fingerprint,
            paths=paths,
            client_key=client_key,
            refresh_margin_s=refresh_margin_s,
            clock=clock,
        )
        self._inner = inner or httpx.HTTPTransport()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        route = core.route(request)
        if route is None:
            return self._inner.handle_request(request)
        request.read()
        prefix, covered = route
        base, owner = core.origin(request, prefix), core.owner(request)
        for attempt in range(2):
            session_or_error = self._session(request, base, owner)
            if isinstance(session_or_error, httpx.Response):
                return session_or_error
            sealed = core.seal(request, covered, session_or_error)
            response = self._inner.handle_request(sealed.request)
            kind = core.kind(response)
            if kind == "envelope":
                response.read()
                return core.open_body(request, sealed, response)
            if kind == "stream":
                assert isinstance(response.stream, httpx.SyncByteStream)
                opener = core.opener(sealed, response.status_code)
                return core.stream_response(request, response, _SyncOpeningStream(response.stream, opener))
            response.read()
            if attempt == 0 and core.session_lost(response):
                core.forget(base, owner, sealed.session)
                continue
            core.refuse_plain(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self, request: httpx.Request, base: str, owner: bytes) -> ClientSession | httpx.Response:
        core = self._core
        session = core.live_session(base, owner)
        if session is not None:
            return session
        with self._lock:
            session = core.live_session(base, owner)
            if session is not None:
                return session
            if base not in core.server_keys:
                key_response = self._inner.handle_request(core.key_request(request, base))
                key_response.read()
                core.accept_key(base, key_response)
            handshake = core.handshake(base)
            started = core.clock()
            response = self._inner.handle_request(core.session_request(request, base, handshake))
            response.read()
            if response.status_code in _HANDSHAKE_FAILURES_PASSED_THROUGH:
                return response
            if response.status_code != 201:
                raise SecureChannelError(f"handshake answered {response.status_code}: {response.text[:200]}")
            return core.accept_session(base, owner, handshake, response, started)

    def close(self) -> None:
        self._inner.close()


class SecureTransport(httpx.AsyncBaseTransport):
    """Asyncio transport for ``httpx.AsyncClient`` / ``openai.AsyncOpenAI``, else like the sync one."""

    def __init__(
        self,
        *,
        server_fingerprint: str,
        inner: httpx.AsyncBaseTransport | None = None,
        paths: Iterable[str] = DEFAULT_PATHS,
        client_key: SM2PrivateKey | None = None,
        refresh_margin_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = _SecureClientCore(
            server_fingerprint=server_fingerprint,
            paths=paths,
            client_key=client_key,
            refresh_margin_s=refresh_margin_s,
            clock=clock,
        )
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._lock: asyncio.Lock | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core = self._core
        route = core.route(request)
        if route is None:
            return await self._inner.handle_async_request(request)
        await request.aread()
        prefix, covered = route
        base, owner = core.origin(request, prefix), core.owner(request)
        for attempt in range(2):
            session_or_error = await self._session(request, base, owner)
            if isinstance(session_or_error, httpx.Response):
                return session_or_error
            sealed = core.seal(request, covered, session_or_error)
            response = await self._inner.handle_async_request(sealed.request)
            kind = core.kind(response)
            if kind == "envelope":
                await response.aread()
                return core.open_body(request, sealed, response)
            if kind == "stream":
                assert isinstance(response.stream, httpx.AsyncByteStream)
                opener = core.opener(sealed, response.status_code)
                return core.stream_response(request, response, _AsyncOpeningStream(response.stream, opener))
            await response.aread()
            if attempt == 0 and core.session_lost(response):
                core.forget(base, owner, sealed.session)
                continue
            core.refuse_plain(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _session(
        self, request: httpx.Request, base: str, owner: bytes
    ) -> ClientSession | httpx.Response:
        core = self._core
        session = core.live_session(base, owner)
        if session is not None:
            return session
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            session = core.live_session(base, owner)
            if session is not None:
                return session
            if base not in core.server_keys:
                key_response = await self._inner.handle_async_request(core.key_request(request, base))
                await key_response.aread()
                core.accept_key(base, key_response)
            handshake = core.handshake(base)
            started = core.clock()
            response = await self._inner.handle_async_request(core.session_request(request, base, handshake))
            await response.aread()
            if response.status_code in _HANDSHAKE_FAILURES_PASSED_THROUGH:
                return response
            if response.status_code != 201:
                raise SecureChannelError(f"handshake answered {response.status_code}: {response.text[:200]}")
            return core.accept_session(base, owner, handshake, response, started)

    async def aclose(self) -> None:
        await self._inner.aclose()
