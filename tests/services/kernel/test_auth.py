from datetime import timedelta

import pytest

from services.kernel.auth import Principal, TokenHasher, extract_token, hash_token, issue_key, parse_lookup
from services.kernel.db import utcnow
from services.kernel.errors import Forbidden, NotFound, Unauthorized
from services.kernel.permissions import ROLE_PERMISSIONS, Role


def test_issued_key_stores_only_an_hmac() -> None:
    issued = issue_key(secret="s" * 32)
    assert issued.token.startswith(f"stic_{issued.lookup}_")
    assert issued.token not in issued.key_hash
    assert issued.key_hash == hash_token(issued.token, secret="s" * 32)
    assert issued.key_hash != hash_token(issued.token, secret="t" * 32)


def test_token_hasher_gives_hash_token_every_time() -> None:
    hasher = TokenHasher("s" * 32)
    tokens = [issue_key(secret="s" * 32).token for _ in range(3)] + ["", "云-unicode"]
    for token in tokens * 2:  # the keyed state is copied, never consumed
        assert hasher.hash(token) == hash_token(token, secret="s" * 32)
    assert TokenHasher("t" * 32).hash(tokens[0]) != hasher.hash(tokens[0])


@pytest.mark.parametrize(
    ("token", "lookup"),
    [
        ("stic_0123456789abcdef_secret", "0123456789abcdef"),
        ("stic_0123456789abcdeg_secret", None),
        ("stic_0123_secret", None),
        ("other_0123456789abcdef_secret", None),
        ("stic_0123456789abcdef_", None),
        ("garbage", None),
    ],
)
def test_parse_lookup(token: str, lookup: str | None) -> None:
    assert parse_lookup(token) == lookup


@pytest.mark.parametrize(
    ("authorization", "header", "expected"),
    [("Bearer abc", None, "abc"), (None, "xyz", "xyz"), ("bearer  abc ", None, "abc")],
)
def test_extract_token(authorization: str | None, header: str | None, expected: str) -> None:
    assert extract_token(authorization, header) == expected


@pytest.mark.parametrize(("authorization", "message"), [(None, "missing API key"), ("Basic abc", "Bearer")])
def test_extract_token_errors(authorization: str | None, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        extract_token(authorization, None)


def _principal(role: Role, tenant: str = "ten_a", **kwargs: object) -> Principal:
    return Principal(
        id="usr_x",
        kind="user",
        name="x",
        tenant_id=tenant,
        key_id="key_x",
        is_platform_admin=role is Role.PLATFORM_ADMIN,
        roles=frozenset({role}),
        tenant_permissions=ROLE_PERMISSIONS[role],
        **kwargs,  # type: ignore[arg-type]
    )


def test_other_tenant_is_not_found_and_missing_permission_is_forbidden() -> None:
    viewer = _principal(Role.VIEWER)
    viewer.require("iam:read", tenant_id="ten_a")
    with pytest.raises(Forbidden):
        viewer.require("iam:write", tenant_id="ten_a")
    with pytest.raises(NotFound, match="project 'prj_b'"):
        viewer.require("iam:read", tenant_id="ten_b", resource=("project", "prj_b"))


def test_platform_admin_may_act_in_any_tenant() -> None:
    _principal(Role.PLATFORM_ADMIN).require("quotas:write", tenant_id="ten_other")


def test_project_scoped_permissions_apply_only_to_that_project() -> None:
    principal = Principal(
        id="usr_x",
        kind="user",
        name="x",
        tenant_id="ten_a",
        key_id="key_x",
        project_permissions={"prj_1": ROLE_PERMISSIONS[Role.DEVELOPER]},
    )
    assert principal.can("jobs:write", tenant_id="ten_a", project_id="prj_1")
    assert not principal.can("jobs:write", tenant_id="ten_a", project_id="prj_2")
    assert not principal.can("jobs:write", tenant_id="ten_a")


def test_utcnow_is_aware() -> None:
    assert utcnow().utcoffset() == timedelta(0)
