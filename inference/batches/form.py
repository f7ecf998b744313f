"""A ``multipart/form-data`` reader for ``POST /v1/files`` (the standard library's MIME parser).

The body is already bounded by the platform's upload limit (``STIC_MAX_UPLOAD_BYTES``), so it is
parsed in memory.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage

from services.kernel.errors import BadRequest


@dataclass(frozen=True, slots=True)
class FormPart:
    """One field of the form: its value, and the file name for file fields."""

    name: str
    value: bytes
    filename: str | None = None


def parse_form(content_type: str | None, body: bytes) -> dict[str, FormPart]:
    """The form's fields by name (the first of a repeated name wins); BadRequest if not a form."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        raise BadRequest(
            "the body must be multipart/form-data with fields 'file' and 'purpose'",
            detail={"param": "file"},
        )
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise BadRequest("the multipart body cannot be parsed", detail={"param": "file"})
    fields: dict[str, FormPart] = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        value = payload if isinstance(payload, bytes) else b""
        fields[name] = FormPart(name=name, value=value, filename=part.get_filename())
    return fields
