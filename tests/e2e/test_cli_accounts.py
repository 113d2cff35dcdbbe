"""`assistant users`, `assistant groups` and `assistant collections grant|revoke`, through the real
command: what an admin types, what they read back, and one-line errors with exit status 2."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import ASSISTANT, NETGUARD, components_for, run_cli

PASSWORD = "violet kettle under 9 bridges"


@pytest.fixture
def admin_home(home):
    """A home with two (empty) collections, as `ingest` would leave them."""
    store = components_for(home).store
    for name in ("handbook", "hr-files"):
        store.create_collection(name)
    return home


def run_cli_with_stdin(*args, home, stdin_text: str):
    """run_cli (tests/conftest.py), with this text on the command's stdin."""
    env = dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(NETGUARD))
    return subprocess.run([ASSISTANT, *args], env=env, input=stdin_text, capture_output=True, text=True, timeout=600)


def add(home, name, *options, password=PASSWORD):
    result = run_cli_with_stdin("users", "add", name, "--password-stdin", *options, home=home, stdin_text=password + "\n")
    assert result.returncode == 0, result.stderr
    return result


def users(home) -> dict[str, dict]:
    result = run_cli("users", "list", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return {u["name"]: u for u in json.loads(result.stdout)["users"]}


def assert_one_line_error(result, message: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_user_added_with_collections_reads_those_only(admin_home):
    result = add(admin_home, "alice", "--collections", "handbook")
    assert "added user alice, who reads handbook" in result.stdout
    alice = users(admin_home)["alice"]
    assert alice == {"name": "alice", "role": "staff", "disabled": False, "groups": [], "reads_all": False,
                     "collections": ["handbook"], "grants": {"read": ["handbook"], "write": []}}


def test_a_user_added_without_collections_reads_nothing_and_is_told_how_to_grant(admin_home):
    result = add(admin_home, "bob")
    assert "reads nothing yet: `assistant collections grant COLLECTION --read user:bob`" in result.stdout
    assert users(admin_home)["bob"]["collections"] == []


def test_all_and_admin_read_every_collection(admin_home):
    add(admin_home, "carol", "--all")
    add(admin_home, "dora", "--admin")
    listed = users(admin_home)
    assert listed["carol"]["reads_all"] and listed["carol"]["collections"] == ["handbook", "hr-files"]
    assert listed["dora"]["role"] == "admin" and listed["dora"]["collections"] == ["handbook", "hr-files"]
    text = run_cli("users", "list", home=admin_home).stdout
    assert "carol\tstaff\tgroups: -\treads: every collection" in text


def test_all_and_collections_cannot_be_given_together(admin_home):
    result = run_cli("users", "add", "erin", "--all", "--collections", "handbook", home=admin_home)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


@pytest.mark.parametrize("password, message", [
    ("short", "the password must have at least 12 characters: choose a longer one"),
    ("password123456", "this password is one of the most common ones"),
    ("alice-in-the-garden", "the password must not contain the user name"),
])
def test_a_weak_password_is_refused_in_one_line(admin_home, password, message):
    result = run_cli_with_stdin("users", "add", "alice", "--password-stdin", home=admin_home, stdin_text=password + "\n")
    assert_one_line_error(result, f"assistant: error: {message}")
    assert "alice" not in users(admin_home)


def test_adding_an_existing_user_says_how_to_change_the_password(admin_home):
    add(admin_home, "alice")
    result = run_cli_with_stdin("users", "add", "alice", "--password-stdin", home=admin_home, stdin_text=PASSWORD + "\n")
    assert_one_line_error(result, "user 'alice' exists already: `assistant users passwd alice` changes the password")


def test_passwd_changes_the_password(admin_home):
    add(admin_home, "alice")
    result = run_cli_with_stdin("users", "passwd", "alice", "--password-stdin", home=admin_home,
                     stdin_text="seven quiet lanterns drifting\n")
    assert result.returncode == 0, result.stderr
    assert "changed the password of alice" in result.stdout
    accounts = components_for(admin_home).accounts
    assert accounts.authenticate("alice", PASSWORD) is None
    assert accounts.authenticate("alice", "seven quiet lanterns drifting") is not None


def test_disable_enable_and_remove(admin_home):
    add(admin_home, "alice", "--collections", "handbook")
    assert run_cli("users", "disable", "alice", home=admin_home).returncode == 0
    listed = users(admin_home)["alice"]
    assert listed["disabled"] and "alice\tstaff, disabled" in run_cli("users", "list", home=admin_home).stdout
    assert components_for(admin_home).accounts.authenticate("alice", PASSWORD) is None
    assert run_cli("users", "enable", "alice", home=admin_home).returncode == 0
    assert not users(admin_home)["alice"]["disabled"]
    result = run_cli("users", "remove", "alice", home=admin_home)
    assert result.returncode == 0 and "removed user alice" in result.stdout
    assert users(admin_home) == {}


@pytest.mark.parametrize("command", [["users", "remove", "ghost"], ["users", "disable", "ghost"],
                                     ["users", "enable", "ghost"], ["groups", "members", "hr", "--add", "ghost"]])
def test_an_unknown_user_is_one_line_error(admin_home, command):
    assert run_cli("groups", "add", "hr", home=admin_home).returncode == 0
    assert_one_line_error(run_cli(*command, home=admin_home), "no user named 'ghost'")


def test_groups_members_and_grants_decide_what_members_read_and_write(admin_home):
    add(admin_home, "alice")
    add(admin_home, "bob")
    assert "added group hr" in run_cli("groups", "add", "hr", home=admin_home).stdout
    result = run_cli("groups", "members", "hr", "--add", "alice", "bob", home=admin_home)
    assert result.returncode == 0 and result.stdout.split() == ["alice", "bob"]
    result = run_cli("collections", "grant", "hr-files", "--read", "hr", "--write", "user:alice", home=admin_home)
    assert result.returncode == 0, result.stderr
    assert "hr-files: read by hr; written by user:alice" in result.stdout

    listed = users(admin_home)
    assert listed["bob"]["groups"] == ["hr"] and listed["bob"]["collections"] == ["hr-files"]
    assert listed["alice"]["grants"] == {"read": ["hr-files"], "write": ["hr-files"]}
    groups = json.loads(run_cli("groups", "list", "--json", home=admin_home).stdout)["groups"]
    assert groups == [{"name": "hr", "members": ["alice", "bob"], "read": ["hr-files"], "write": []}]

    result = run_cli("groups", "members", "hr", "--remove", "bob", "--json", home=admin_home)
    assert json.loads(result.stdout) == {"group": "hr", "members": ["alice"]}
    assert users(admin_home)["bob"]["collections"] == []

    result = run_cli("collections", "revoke", "hr-files", "--read", "hr", home=admin_home)
    assert result.returncode == 0 and "revoked 1 grant(s)" in result.stdout
    assert users(admin_home)["alice"]["collections"] == []
    assert run_cli("groups", "remove", "hr", home=admin_home).returncode == 0
    assert "no groups yet" in run_cli("groups", "list", home=admin_home).stdout


def test_grant_errors_are_one_line(admin_home):
    assert_one_line_error(run_cli("collections", "grant", "handbook", "--read", "nope", home=admin_home),
                          "no group named 'nope': create it with `assistant groups add nope`")
    assert_one_line_error(run_cli("collections", "grant", "handbook", home=admin_home),
                          "name at least one group to read (--read GROUP) or to write (--write GROUP)")
    assert_one_line_error(run_cli("collections", "grant", "bad/name", "--read", "user:x", home=admin_home),
                          "invalid collection name 'bad/name'")
    assert_one_line_error(run_cli("groups", "add", "user:x", home=admin_home), "invalid group name 'user:x'")


def test_collections_list_and_delete_are_still_there(admin_home):
    result = run_cli("collections", "list", "--json", home=admin_home)
    assert result.returncode == 0, result.stderr
    assert [c["name"] for c in json.loads(result.stdout)["collections"]] == ["handbook", "hr-files"]


def test_the_first_command_moves_users_json_in(admin_home):
    import hashlib
    import secrets

    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", b"old-secret", salt, 200_000).hex()
    (admin_home / "users.json").write_text(json.dumps({"users": {
        "alice": {"password": f"pbkdf2_sha256$200000${salt.hex()}${digest}", "collections": ["handbook"]},
        "bob": {"password": f"pbkdf2_sha256$200000${salt.hex()}${digest}", "collections": ["*"]}}}))
    result = run_cli("users", "list", "--json", home=admin_home)
    assert result.returncode == 0, result.stderr
    assert "bob could read every collection" in result.stderr
    listed = {u["name"]: u["collections"] for u in json.loads(result.stdout)["users"]}
    assert listed == {"alice": ["handbook"], "bob": []}
    assert (admin_home / "users.json.migrated").is_file() and not (admin_home / "users.json").exists()


@pytest.mark.parametrize("command", [["users", "add"], ["users", "passwd"], ["users", "disable"], ["users", "enable"],
                                     ["users", "list"], ["users", "remove"], ["groups", "add"], ["groups", "remove"],
                                     ["groups", "members"], ["groups", "list"], ["collections", "grant"],
                                     ["collections", "revoke"]])
def test_every_account_action_has_help(home, command):
    result = run_cli(*command, "--help", home=home)
    assert result.returncode == 0, result.stderr
    assert f"usage: assistant {' '.join(command)}" in result.stdout
    assert "options:" in result.stdout and len(result.stdout.splitlines()) >= 5


def audit(home, *options) -> list[dict]:
    result = run_cli("audit", "--json", *options, home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["events"]


def test_admin_changes_and_questions_land_in_the_audit_trail_without_the_password(admin_home):
    add(admin_home, "alice")
    assert run_cli("groups", "add", "hr", home=admin_home).returncode == 0
    assert run_cli("collections", "grant", "handbook", "--read", "hr", home=admin_home).returncode == 0
    asked = run_cli("ask", "What is the parking policy on the moon?", "--collection", "handbook", "--json",
                    home=admin_home)
    assert asked.returncode == 0, asked.stderr

    events = audit(admin_home)
    assert [(e["kind"], e["detail"].get("action")) for e in events] == [
        ("admin", "users add"), ("admin", "groups add"), ("admin", "collections grant"), ("question", None)]
    assert all(e["user"] == "(local operator)" and e["detail"]["os_user"] for e in events)
    assert events[0]["detail"]["target"] == "alice"
    assert events[2]["detail"] == {**events[2]["detail"], "collection": "handbook", "read": ["hr"]}
    question = events[3]["detail"]
    assert question["question"] == "What is the parking policy on the moon?"
    assert question["collections"] == ["handbook"] and question["outcome"] == "refusal"
    everything = run_cli("audit", home=admin_home).stdout + json.dumps(events)
    assert PASSWORD not in everything and "argon2" not in everything


def test_audit_filters_by_user_date_and_kind_and_refuses_a_bad_date(admin_home):
    add(admin_home, "alice")
    assert [e["kind"] for e in audit(admin_home, "--kind", "admin")] == ["admin"]
    assert audit(admin_home, "--kind", "login") == []
    assert audit(admin_home, "--user", "alice") == []  # the change was the operator's, not alice's
    assert len(audit(admin_home, "--since", "2000-01-01")) == 1
    assert audit(admin_home, "--since", "2999-01-01T00:00") == []
    assert run_cli("audit", "--since", "2999-01-01", home=admin_home).stdout.strip() == "no audit events match"
    assert_one_line_error(run_cli("audit", "--since", "last week", home=admin_home), "is not a date")
