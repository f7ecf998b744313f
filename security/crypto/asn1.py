"""Minimal strict DER (X.690) encoder and decoder for the few structures SM2 needs.

Only definite, minimal-length encodings are accepted, so every value has exactly one
encoding: parsing then re-encoding reproduces the input byte for byte. Errors raise
:class:`DerError` naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from security.crypto.errors import InvalidInputError

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30


class DerError(InvalidInputError):
    """The input is not valid DER for the expected structure."""


def context(number: int, *, constructed: bool = True) -> int:
    """Return the tag byte of context-specific ``[number]``."""
    return 0x80 | (0x20 if constructed else 0) | number


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    """Encode one tag-length-value element."""
    return bytes([tag]) + _length(len(value)) + value


def integer(value: int) -> bytes:
    """Encode a non-negative INTEGER."""
    if value < 0:
        raise DerError("negative INTEGER values are not used here")
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def octet_string(value: bytes) -> bytes:
    """Encode an OCTET STRING."""
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """Encode a BIT STRING with no unused bits."""
    return tlv(BIT_STRING, b"\x00" + value)


def sequence(*items: bytes) -> bytes:
    """Encode a SEQUENCE of already-encoded items."""
    return tlv(SEQUENCE, b"".join(items))


def oid(dotted: str) -> bytes:
    """Encode an OBJECT IDENTIFIER given in dotted form, e.g. ``1.2.156.10197.1.301``."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise DerError(f"invalid OBJECT IDENTIFIER {dotted!r}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OBJECT_IDENTIFIER, bytes(body))


@dataclass(frozen=True, slots=True)
class Element:
    """A decoded element: its tag and raw value bytes."""

    tag: int
    value: bytes


def read(data: bytes, offset: int = 0) -> tuple[Element, int]:
    """Decode the element starting at ``offset``; return it and the offset just past it."""
    if offset + 2 > len(data):
        raise DerError("truncated DER element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte DER tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError("indefinite lengths are not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise DerError("DER length field is too long or truncated")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or data[pos] == 0:
            raise DerError("DER length is not minimally encoded")
        pos += count
    if pos + length > len(data):
        raise DerError("DER element runs past the end of the input")
    return Element(tag, bytes(data[pos : pos + length])), pos + length


def read_all(data: bytes) -> list[Element]:
    """Decode consecutive elements that exactly fill ``data``."""
    out: list[Element] = []
    pos = 0
    while pos < len(data):
        element, pos = read(data, pos)
        out.append(element)
    return out


def read_single(data: bytes, tag: int, what: str) -> Element:
    """Decode exactly one element of ``tag`` filling all of ``data``."""
    element, end = read(data)
    if end != len(data):
        raise DerError(f"{what}: trailing bytes after the DER element")
    expect(element, tag, what)
    return element


def expect(element: Element, tag: int, what: str) -> None:
    """Raise :class:`DerError` unless ``element`` has ``tag``."""
    if element.tag != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{element.tag:02x}")


def parse_integer(element: Element, what: str) -> int:
    """Return the non-negative value of a minimally encoded INTEGER."""
    expect(element, INTEGER, what)
    raw = element.value
    if not raw:
        raise DerError(f"{what}: empty INTEGER")
    if raw[0] & 0x80:
        raise DerError(f"{what}: negative INTEGER")
    if len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
        raise DerError(f"{what}: INTEGER is not minimally encoded")
    return int.from_bytes(raw, "big")


def parse_oid(element: Element, what: str) -> str:
    """Return the dotted form of an OBJECT IDENTIFIER."""
    expect(element, OBJECT_IDENTIFIER, what)
    raw = element.value
    if not raw or raw[-1] & 0x80:
        raise DerError(f"{what}: malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    return ".".join(str(a) for a in head + arcs[1:])


def parse_bit_string(element: Element, what: str) -> bytes:
    """Return the content of a BIT STRING that has no unused bits."""
    expect(element, BIT_STRING, what)
    if not element.value or element.value[0] != 0:
        raise DerError(f"{what}: BIT STRING with unused bits")
    return element.value[1:]
