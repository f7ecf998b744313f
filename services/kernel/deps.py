"""FastAPI dependencies shared by every service, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.auth import Principal, authenticate, extract_token
from services.kernel.db import Database
from services.kernel.settings import Settings


def get_database(request: Request) -> Database:
    """The app's :class:`Database`."""
    database: Database = request.app.state.database
    return database


def get_settings_dep(request: Request) -> Settings:
    """The app's :class:`Settings`."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session per request: committed when the handler returns, rolled back on error."""
    async for session in get_database(request).session():
        yield session


# scope="function": the commit happens before the response is sent, so a client that got 2xx can
# read its own write at once (and a failed commit is an error response, not a lost write).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]


_bearer = HTTPBearer(auto_error=False, description="STIC API key as a bearer token")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="STIC API key")


async def get_principal(
    request: Request,
    _bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    """Authenticate the caller from its API key; stores it on ``request.state.principal``."""
    token = extract_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
    database = get_database(request)
    async with database.sessionmaker() as session:
        principal = await authenticate(session, token=token, secret=request.app.state.settings.secret_key)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
