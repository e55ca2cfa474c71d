"""The log-in services' edges: malformed and oversized tokens, identity claims of the wrong
shape, a key ring whose files were damaged, principals files, the services bundle built from
workbench.yml, and the store helpers.  Real keys, real signatures, real sqlite files."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from workbench.config import Settings
from workbench.security.audit import AuditLog
from workbench.security.auth_errors import KeyRingError, TokenRejected, UserStoreError
from workbench.security.jwt_checks import MAX_TOKEN_BYTES
from workbench.security.keyring import KeyRing
from workbench.security.principal import Principal, load_principals
from workbench.security.services import AuthServices
from workbench.security.sqlite_files import SQLiteFile
from workbench.semantic.errors import ModelError, QueryError

from .auth_support import PASSWORD, b64, claims_for, login, rejected, sign_ours


# ---- tokens that are not even tokens -------------------------------------------------------------
@pytest.mark.parametrize(
    "token, reason, detail",
    [
        ("", "malformed", "no token"),
        (None, "malformed", "no token"),
        ("abc.def", "malformed", "not three parts"),
        (f"{b64(b'[1, 2]')}.e30.sig", "malformed", "header"),  # JSON, but not an object
        (f"{b64(b'not json')}.e30.sig", "malformed", "header"),
        ("a" * (MAX_TOKEN_BYTES + 1), "too_large", f"{MAX_TOKEN_BYTES + 1} bytes"),
    ],
)
def test_malformed_tokens_are_rejected_with_their_reason(tokens, audit, token, reason, detail):
    details = rejected(tokens, audit, token, reason)
    assert details["detail"] == detail
    assert details["sub"] is None  # nothing from an unverified token is reported as who


def test_a_token_given_as_bytes_is_read_as_text(tokens, sessions):
    _, access = login(tokens, sessions)
    assert tokens.validate(access.encode("ascii")).sub == "ann"


@pytest.mark.parametrize(
    "over, detail",
    [
        ({"roles": "analyst"}, "roles"),  # text, not a list
        ({"roles": ["analyst", 7]}, "roles"),
        ({"attributes": ["region", "North"]}, "attributes"),
        ({"sid": 12}, "sid"),
    ],
)
def test_identity_claims_of_the_wrong_shape_are_refused_even_when_signed_by_us(
    tokens, audit, sessions, over, detail
):
    s = sessions.start("ann")
    token = sign_ours(tokens, claims_for(tokens, s.sid, **over))
    details = rejected(tokens, audit, token, "bad_claim")
    assert details["detail"] == detail


def test_reprs_name_the_place_never_a_secret(tokens, sessions, users, ring):
    _, access = login(tokens, sessions)
    text = " ".join(map(repr, (tokens, sessions, users, ring)))
    assert "iss='https://workbench.test'" in text and "lifetime_s=600" in text
    assert "sessions.sqlite" in text and "users.sqlite" in text
    assert access not in text and "argon2" not in text and "PRIVATE" not in text


# ---- users ---------------------------------------------------------------------------------------
def test_roles_can_be_changed_and_are_checked(users, audit):
    users.set_roles("ann", ["viewer", "admin", "viewer"])
    assert users.get("ann").roles == ("viewer", "admin")  # duplicates dropped, order kept
    assert audit.of("user.roles")[-1]["roles"] == ["viewer", "admin"]
    with pytest.raises(UserStoreError) as e:
        users.set_roles("ann", ["root"])
    assert e.value.reason == "bad_role" and users.get("ann").roles == ("viewer", "admin")
    with pytest.raises(UserStoreError) as e:
        users.set_roles("zed", ["viewer"])
    assert e.value.reason == "unknown_user"


def test_an_overlong_password_is_refused_before_hashing(users):
    with pytest.raises(UserStoreError) as e:
        users.add("bob", "x" * 1025, ["viewer"])
    assert e.value.reason == "bad_password" and users.get("bob") is None


def test_a_users_principal_carries_roles_and_attributes(users):
    p = users.get("ann").principal()
    assert p == Principal.of("ann", ["analyst"], region="North")
    assert p.attrs == {"region": "North"} and p.has_any(["viewer", "analyst"])
    assert not p.has_any(["admin"])


# ---- sessions ------------------------------------------------------------------------------------
def test_revocation_check_without_a_session_id_looks_at_the_jti_only(sessions, clock):
    assert sessions.revoked_reason(sid=None, jti="j-1", sub="ann", iat=clock()) is None
    sessions.revoke_jti("j-1", until=clock() + 600)
    assert sessions.revoked_reason(sid=None, jti="j-1", sub="ann", iat=clock()) == "token_revoked"


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    f = SQLiteFile(tmp_path / "t.sqlite", "create table if not exists t (x integer primary key);")
    with pytest.raises(sqlite3.IntegrityError), f.transaction() as db:
        db.execute("insert into t values (1)")
        db.execute("insert into t values (1)")  # the second fails: the first is rolled back
    with f.connection() as db:
        assert db.execute("select count(*) from t").fetchone()[0] == 0
    assert oct(os.stat(tmp_path / "t.sqlite").st_mode & 0o777) == "0o600"


# ---- a damaged key ring --------------------------------------------------------------------------
def _meta(ring: KeyRing) -> dict:
    return json.loads((ring.directory / "ring.json").read_text())


def _write_meta(ring: KeyRing, meta) -> None:
    path = ring.directory / "ring.json"
    path.write_text(meta if isinstance(meta, str) else json.dumps(meta))
    os.chmod(path, 0o600)


def test_a_ring_file_removed_under_a_running_process_keeps_the_keys_it_has(ring):
    kid = ring.current_kid
    (ring.directory / "ring.json").unlink()
    assert ring.current_kid == kid and ring.public_key(kid) is not None


@pytest.mark.parametrize(
    "damage, reason, message",
    [
        ("not json", "bad_ring", r"not a key ring file \(JSONDecodeError\)"),
        ({"no_keys": []}, "bad_ring", r"not a key ring file \(KeyError\)"),
        ("kid", "bad_ring", "bad entry"),
        ("state", "bad_ring", "bad entry"),
        ("pem", "bad_key", "not an unencrypted PEM private key"),
        ("missing", "bad_ring", "missing from the key ring"),
    ],
)
def test_a_damaged_ring_is_refused_naming_the_file(ring, clock, damage, reason, message):
    meta = _meta(ring)
    kid = meta["keys"][0]["kid"]
    if damage == "kid":
        meta["keys"][0]["kid"] = "../../etc/passwd"
    elif damage == "state":
        meta["keys"][0]["state"] = "revoked"
    elif damage == "pem":
        (ring.directory / f"{kid}.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n")
    elif damage == "missing":
        (ring.directory / f"{kid}.pem").unlink()
    if isinstance(damage, dict) or damage == "not json":
        meta = damage
    _write_meta(ring, meta)
    with pytest.raises(KeyRingError, match=message) as e:
        KeyRing(ring.directory, clock=clock)
    assert e.value.reason == reason
    assert "PRIVATE KEY" not in str(e.value)


def test_a_ring_without_a_next_key_says_so(ring, clock):
    meta = _meta(ring)
    meta["keys"] = [k for k in meta["keys"] if k["state"] != "next"]
    _write_meta(ring, meta)
    reopened = KeyRing(ring.directory, clock=clock)  # a current key exists: nothing is created
    assert reopened.current_kid == ring.current_kid
    with pytest.raises(KeyRingError, match="no next key") as e:
        reopened.next_kid
    assert e.value.reason == "bad_ring"


# ---- principals files ----------------------------------------------------------------------------
PRINCIPALS = """\
default: ann
principals:
  ann: {roles: [analyst], attributes: {region: North}}
  vic: {roles: [viewer], description: a viewer}
"""


def test_principals_file(tmp_path):
    path = tmp_path / "principals.yml"
    path.write_text(PRINCIPALS)
    ps = load_principals(path)
    assert ps.get(None) == Principal.of("ann", ["analyst"], region="North")
    assert ps.get("vic").roles == frozenset({"viewer"}) and ps.get("vic").attrs == {}
    with pytest.raises(QueryError, match=r"Unknown principal 'anm' in .*principals\.yml") as e:
        ps.get("anm")
    assert e.value.suggestions == ["ann"]
    path.write_text(PRINCIPALS.replace("default: ann\n", ""))
    with pytest.raises(QueryError, match="No principal given and no default"):
        load_principals(path).get(None)


def test_principals_differ_in_context_key_by_everything_they_may_see():
    base = Principal.of("ann", ["analyst"], region="North")
    assert base.context_key == Principal.of("ann", ["analyst"], region="North").context_key
    others = [
        Principal.of("bob", ["analyst"], region="North"),
        Principal.of("ann", ["viewer"], region="North"),
        Principal.of("ann", ["analyst"], region="South"),
        Principal.of("ann", ["analyst"]),
    ]
    assert len({base.context_key, *(p.context_key for p in others)}) == 5


@pytest.mark.parametrize(
    "text, message, field",
    [
        (
            "principals: {ann: {roles: [analyst], colour: red}}",
            "Extra inputs",
            "principals.ann.colour",
        ),
        ("default: zed\nprincipals: {ann: {roles: [analyst]}}", "'zed' is not defined", None),
        ("principals: {ann: [unclosed", "cannot read principals", None),
    ],
)
def test_a_bad_principals_file_is_named_with_the_field(tmp_path, text, message, field):
    path = tmp_path / "principals.yml"
    path.write_text(text)
    with pytest.raises(ModelError, match=message) as e:
        load_principals(path)
    assert str(path) in str(e.value)
    if field:
        assert field in str(e.value)


# ---- the services bundle -------------------------------------------------------------------------
def test_services_from_workbench_settings_share_one_audit_trail(tmp_path):
    settings = Settings(root=str(tmp_path))
    log = AuditLog.open(settings)
    services = AuthServices.from_settings(settings, audit_log=log)
    services.users.add("ann", PASSWORD, ["analyst"], {"region": "North"})
    user = services.users.authenticate("ann", PASSWORD)
    session = services.sessions.start(user.name)
    access = services.tokens.issue(
        user.name, roles=user.roles, attributes=user.attributes, sid=session.sid
    )
    assert services.tokens.validate(access).principal() == user.principal()
    assert services.policy.allowed(["analyst"], "lab", "read")
    assert not services.policy.allowed(["viewer"], "lab", "read")
    services.close()
    # the files are where workbench.yml's defaults put them, under the project root
    assert (tmp_path / ".workbench" / "security" / "users.sqlite").is_file()
    actions = [e.action for e in log.entries()]
    for action in ("user.add", "login.success", "session.start", "token.issue"):
        assert action in actions
    assert {e.data["source"] for e in log.entries()} == {"security"}
    assert log.verify().ok
    with pytest.raises(TokenRejected):
        services.tokens.validate(access + "x")


def test_services_without_an_audit_log_record_nothing_and_close_cleanly(tmp_path):
    services = AuthServices.from_settings(Settings(root=str(tmp_path)))
    services.users.add("ann", PASSWORD, ["viewer"])
    assert services.audit_log is None
    services.close()
    assert not (tmp_path / ".workbench" / "audit").exists()
