"""`assistant settings` never prints a secret, and the secret still reaches what needs it.

Secrets are told apart by type (a pydantic Secret field), not by name, so a secret added later is
masked the same way without anyone remembering to list it.
"""
from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from assistant.llm import build_llm
from assistant.settings import SECRET_MASK, Settings, load_settings
from tests.conftest import run_cli

KEY = "sk-secret-value"


@pytest.mark.parametrize("where", ["environment", "settings file"])
def test_the_api_key_is_masked_in_text_and_json_output(home, where):
    env = {"ASSISTANT_LLM_API_KEY": KEY} if where == "environment" else {}
    if where == "settings file":
        (home / "settings.toml").write_text(f'llm_api_key = "{KEY}"\n')
    text = run_cli("settings", home=home, env_extra=env)
    as_json = run_cli("settings", "--json", home=home, env_extra=env)
    verbose = run_cli("-v", "settings", "--json", home=home, env_extra=env)

    for result in (text, as_json, verbose):
        assert result.returncode == 0, result.stderr
        assert KEY not in result.stdout and KEY not in result.stderr
        assert "secret-value" not in result.stdout + result.stderr
    assert f"ASSISTANT_LLM_API_KEY={SECRET_MASK}\n" in text.stdout
    assert json.loads(as_json.stdout)["llm_api_key"] == SECRET_MASK


def test_an_empty_key_is_shown_empty(home, monkeypatch):
    monkeypatch.delenv("ASSISTANT_LLM_API_KEY", raising=False)
    text = run_cli("settings", home=home)
    as_json = run_cli("settings", "--json", home=home)
    assert "ASSISTANT_LLM_API_KEY=\n" in text.stdout
    assert json.loads(as_json.stdout)["llm_api_key"] == ""
    assert json.loads(as_json.stdout)["top_k"] == 5  # other values shown as they are


def test_the_masked_key_is_still_the_one_sent_to_the_model_server(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_LLM_API_KEY", KEY)
    settings = load_settings(llm_backend="openai", llm_model="served-model")
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    assert build_llm(settings).api_key == KEY


def test_any_secret_field_is_masked_whatever_its_name(home):
    class WithMoreSecrets(Settings):
        chroma_token: SecretStr = SecretStr("tok-123")
        unset_password: SecretStr = SecretStr("")

    shown = WithMoreSecrets().for_display()
    assert shown["chroma_token"] == SECRET_MASK and shown["unset_password"] == ""
    assert "tok-123" not in json.dumps(shown)
