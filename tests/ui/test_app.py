"""The UI refuses to expose documents to the network without logins."""
import pytest

from assistant.components import Components
from assistant.settings import load_settings
from ui.app import ChatSession, UIConfigError, login_required


def test_loopback_without_users_needs_no_login(home):
    assert login_required(Components(load_settings())) is False


def test_binding_a_network_address_without_users_is_refused_with_the_fix(home):
    components = Components(load_settings(ui_host="0.0.0.0"))
    with pytest.raises(UIConfigError, match="assistant users add"):
        login_required(components)


def test_with_a_user_login_is_required_everywhere(home):
    components = Components(load_settings(ui_host="0.0.0.0"))
    components.users.add("alice", "correct horse battery")
    assert login_required(components) is True
    assert login_required(Components(load_settings())) is True
    assert components.users.authenticate("alice", "correct horse battery")
    assert not components.users.authenticate("alice", "wrong password")


def test_a_user_only_sees_the_collections_they_may_read(tmp_path, home, embedder):
    from tests.conftest import components_for, ingest

    components = components_for(home, embedder)
    for name in ("people", "finance"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / f"{name}.md").write_text(f"# {name}\nThe {name} team meets on Mondays.\n")
        assert ingest(components, [folder], collection=name).ok
    components.users.add("bob", "long enough password", ["people"])
    session = ChatSession(components, require_login=True)
    assert session.readable_collections("bob") == ["people"]
    history, _, _ = list(session.respond("When does finance meet?", [], [], "finance", "bob"))[-1]
    assert history[-1]["content"] == "Pick a collection first (you can read: people)."
    assert "Mondays" not in str(history)
    with pytest.raises(PermissionError):
        session.readable_collections("mallory")
