"""ASGI middleware: decrypt enveloped request bodies, encrypt the responses and each SSE event.

For a request to one of ``paths`` whose ``Content-Type`` is the envelope type, the middleware
opens the envelope (session lookup, API-key binding, SM4-GCM check, replay window — the window
is only advanced once the envelope is authentic, so garbage cannot burn sequence numbers) and
hands the app the plain JSON body. The app's answer is sealed under the server-to-client key:

* a non-streamed body is buffered (it is complete anyway) and sent as one envelope;
* a ``text/event-stream`` body is never buffered beyond one event: each upstream event becomes
  one encrypted event, sent as soon as it is complete, numbered 0, 1, 2...; a final ``fin``
  event authenticates the end, so the client detects truncation, reordering and dropping.

Every response to an enveloped request carries ``x-stic-envelope: sm4-gcm/1``. Envelope
failures are answered in clear (the key may be unknown) in the OpenAI error shape. Plain
requests pass through after one path lookup and one header scan, unless ``required``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.gateway.secure.envelope import CONTENT_TYPE, Binding, Direction, Envelope
from inference.gateway.secure.errors import ENVELOPE_ERROR_HEADER, EnvelopeError, EnvelopeRequired
from inference.gateway.secure.events import EventSplitter
from inference.gateway.secure.gateway import SecureGateway, secure_gateway_of
from inference.gateway.secure.metrics import ENVELOPES
from inference.gateway.secure.sessions import SecureSession, token_from_headers

DEFAULT_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
ENVELOPE_HEADER = b"x-stic-envelope"
ENVELOPE_HEADER_VALUE = b"sm4-gcm/1"
_CONTENT_TYPE = CONTENT_TYPE.encode()
_DROPPED_REQUEST_HEADERS = frozenset({b"content-type", b"content-length", b"accept-encoding"})
_DROPPED_RESPONSE_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding"})
_NO_BODY_STATUSES = frozenset({204, 304})

GatewaySource = SecureGateway | Callable[[], SecureGateway] | None


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _is_envelope(content_type: bytes | None) -> bool:
    return content_type is not None and content_type.split(b";", 1)[0].strip().lower() == _CONTENT_TYPE


class SecureEnvelopeMiddleware:
    """Wrap ``app`` so bodies on ``paths`` can travel SM4-GCM encrypted (see the module docstring).

    ``gateway`` is the :class:`SecureGateway` (or a callable returning it); when None it is read
    from ``app.state.secure_gateway`` of the enclosing Starlette app on first use (installed by
    :func:`install_secure_gateway`). ``required`` refuses plain bodies on ``paths``; None takes
    the gateway's ``settings.required``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        gateway: GatewaySource = None,
        paths: Iterable[str] = DEFAULT_PATHS,
        required: bool | None = None,
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self._source = gateway
        self._gateway = gateway if isinstance(gateway, SecureGateway) else None
        self._required = required

    def _resolve(self, scope: Scope) -> SecureGateway:
        if self._gateway is None:
            source = self._source
            self._gateway = source() if callable(source) else secure_gateway_of(scope.get("app"))
        return self._gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if not _is_envelope(_header(scope["headers"], b"content-type")):
            required = self._required
            if required is None:
                required = self._resolve(scope).settings.required
            if required:
                await _send_error(send, EnvelopeRequired(_required_message(), param="content-type"))
            else:
                await self.app(scope, receive, send)
            return
        await self._secure_exchange(scope, receive, send)

    async def _secure_exchange(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        try:
            envelope = Envelope.from_json(body)
            session = self._resolve(scope).sessions.get(envelope.session_id)
            session.check_owner(_token(headers))
            binding = Binding(scope["method"], scope["path"], session.id, envelope.seq)
            plaintext = session.cipher.open(Direction.REQUEST, binding, envelope)
            session.window.accept(envelope.seq)
        except EnvelopeError as exc:
            ENVELOPES.labels(exc.code).inc()
            await _send_error(send, exc)
            return
        ENVELOPES.labels("ok").inc()
        inner_headers = [(k, v) for k, v in headers if k not in _DROPPED_REQUEST_HEADERS]
        inner_headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(plaintext))]
        # In place, not a copy: outer middleware reads what the router records in the scope (route).
        scope["headers"] = inner_headers
        scope.setdefault("state", {})["secure_session_id"] = session.id
        sealer = _ResponseSealer(send, session, binding)
        await self.app(scope, _replaying(plaintext, receive), sealer.send)


def _required_message() -> str:
    return (
        f"this gateway requires encrypted bodies: send Content-Type: {CONTENT_TYPE} "
        "(open a session at POST /v1/secure/sessions)"
    )


def _token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    authorization = _header(headers, b"authorization")
    api_key = _header(headers, b"x-api-key")
    return token_from_headers(
        authorization.decode("latin-1") if authorization else None,
        api_key.decode("latin-1") if api_key else None,
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(plaintext: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": plaintext, "more_body": False}
        return await receive()  # afterwards only http.disconnect can come

    return replay


async def _send_error(send: Send, error: EnvelopeError) -> None:
    payload = error.encoded()
    await send(
        {
            "type": "http.response.start",
            "status": error.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(payload)),
                (ENVELOPE_ERROR_HEADER, error.code.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _ResponseSealer:
    """The ``send`` given to the app for one enveloped request."""

    __slots__ = ("_binding", "_body", "_chunk", "_send", "_session", "_splitter", "_start", "_status")

    def __init__(self, send: Send, session: SecureSession, request_binding: Binding) -> None:
        self._send = send
        self._session = session
        self._binding = request_binding
        self._start: Message | None = None
        self._status = 500
        self._splitter: EventSplitter | None = None
        self._body: list[bytes] = []
        self._chunk = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            await self._on_start(message)
        elif kind == "http.response.body" and self._start is not None:
            await self._on_body(message)
        else:
            await self._send(message)

    async def _on_start(self, message: Message) -> None:
        self._status = message["status"]
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        content_type = _header(headers, b"content-type") or b""
        if self._status in _NO_BODY_STATUSES:
            await self._send(message)
            return
        kept = [(k, v) for k, v in headers if k not in _DROPPED_RESPONSE_HEADERS]
        kept.append((ENVELOPE_HEADER, ENVELOPE_HEADER_VALUE))
        if content_type.startswith(b"text/event-stream"):
            self._splitter = EventSplitter()
            await self._send({**message, "headers": [*kept, (b"content-type", content_type)]})
            self._start = message
            return
        self._start = {**message, "headers": kept}

    def _binding_for(self, *, chunk: int | None, final: bool = False) -> Binding:
        request = self._binding
        return Binding(
            request.method, request.path, request.session_id, request.seq, self._status, chunk, final
        )

    def _seal_event(self, block: bytes, *, final: bool = False) -> bytes:
        binding = self._binding_for(chunk=self._chunk, final=final)
        self._chunk += 1
        envelope = self._session.cipher.seal(Direction.RESPONSE, binding, block)
        return b"data: " + envelope.to_json() + b"\n\n"

    async def _on_body(self, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if self._splitter is not None:
            out = b"".join(self._seal_event(block) for block in self._splitter.feed(body))
            if not more:
                rest = self._splitter.flush()
                if rest:
                    out += self._seal_event(rest)
                out += self._seal_event(b"", final=True)
            if out or not more:
                await self._send({"type": "http.response.body", "body": out, "more_body": more})
            return
        self._body.append(body)
        if more:
            return
        envelope = self._session.cipher.seal(
            Direction.RESPONSE, self._binding_for(chunk=None), b"".join(self._body)
        )
        payload = envelope.to_json()
        assert self._start is not None
        headers: list[Any] = [
            *self._start["headers"],
            (b"content-type", _CONTENT_TYPE),
            (b"content-length", b"%d" % len(payload)),
        ]
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": payload, "more_body": False})
