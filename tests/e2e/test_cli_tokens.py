"""`assistant tokens create|list|revoke`, through the real command: the token is printed once, on
the last line, kept only as its sha256, listed without it, and refused once revoked."""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from tests.conftest import components_for, run_cli
from tests.e2e.test_cli_accounts import add, admin_home, assert_one_line_error  # noqa: F401  (fixture)


def test_a_token_is_made_listed_without_its_secret_and_revoked(admin_home):
    add(admin_home, "alice", "--collections", "handbook")
    # As a terminal shows it (stdout and stderr together): the token is the last line.
    made = run_cli("tokens", "create", "alice", "--label", "wiki bot", home=admin_home,
                   wrapper=("sh", "-c", '"$0" "$@" 2>&1'))
    assert made.returncode == 0, made.stdout
    *said, token = made.stdout.strip().splitlines()
    assert token.startswith("asst_") and len(token) >= 40
    assert "created API token 1 for alice (reads handbook)" in " ".join(said)

    with sa.create_engine(f"sqlite:///{admin_home / 'accounts.sqlite'}").connect() as db:
        stored = " ".join(str(v) for table in ("api_tokens", "audit_events")
                          for row in db.execute(sa.text(f"SELECT * FROM {table}")) for v in row)
    assert hashlib.sha256(token.encode()).hexdigest() in stored  # the hash, in api_tokens
    assert token not in stored

    accounts = components_for(admin_home)
    assert accounts.api_tokens.user_of(token).name == "alice"
    listed = run_cli("tokens", "list", home=admin_home)
    assert listed.returncode == 0 and token not in listed.stdout
    assert listed.stdout.startswith("1\talice\twiki bot\tcreated ") and listed.stdout.rstrip().endswith("active")
    [entry] = json.loads(run_cli("tokens", "list", "--json", home=admin_home).stdout)["tokens"]
    assert (entry["id"], entry["user"], entry["label"], entry["revoked_at"]) == (1, "alice", "wiki bot", None)
    assert entry["last_used_at"] is not None  # used just above

    revoked = run_cli("tokens", "revoke", "1", home=admin_home)
    assert revoked.returncode == 0 and "revoked API token 1 of alice" in revoked.stdout
    assert components_for(admin_home).api_tokens.user_of(token) is None
    assert "\trevoked " in run_cli("tokens", "list", home=admin_home).stdout
    actions = [(e.detail["action"], e.detail["target"], e.detail["credential_id"])
               for e in accounts.audit.query(kinds=["admin"]) if e.detail["action"].startswith("tokens")]
    assert actions == [("tokens create", "alice", 1), ("tokens revoke", "alice", 1)]


def test_a_disabled_users_token_is_refused_until_they_are_enabled(admin_home):
    add(admin_home, "bob", "--collections", "handbook")
    token = run_cli("tokens", "create", "bob", home=admin_home).stdout.strip()
    tokens = components_for(admin_home).api_tokens
    assert run_cli("users", "disable", "bob", home=admin_home).returncode == 0
    assert tokens.user_of(token) is None
    assert run_cli("users", "enable", "bob", home=admin_home).returncode == 0
    assert tokens.user_of(token).name == "bob"
    assert run_cli("users", "remove", "bob", home=admin_home).returncode == 0
    assert tokens.user_of(token) is None and tokens.list() == []


def test_unknown_users_and_token_ids_are_one_line_errors(admin_home):
    assert_one_line_error(run_cli("tokens", "create", "nobody", home=admin_home), "no user named 'nobody'")
    assert_one_line_error(run_cli("tokens", "revoke", "42", home=admin_home), "no API token with id 42")
    empty = run_cli("tokens", "list", home=admin_home)
    assert empty.returncode == 0 and "no API tokens" in empty.stdout
