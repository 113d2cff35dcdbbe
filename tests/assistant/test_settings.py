"""Settings: defaults < ASSISTANT_HOME/settings.toml < ASSISTANT_* environment."""
import pytest

from assistant.settings import SettingsError, load_settings


def test_defaults_describe_the_documented_product(home, monkeypatch):
    monkeypatch.delenv("ASSISTANT_LLM_MODEL", raising=False)
    settings = load_settings()
    assert settings.home == home.resolve()
    assert settings.llm_model == "qwen2.5-coder-1.5b"
    assert settings.llm_threads == 2 and settings.llm_flash_attention is True
    assert settings.embedding_model == "all-minilm-l6-v2"
    assert (settings.ui_host, settings.ui_port) == ("127.0.0.1", 7860)
    assert settings.chroma_path == home.resolve() / "chroma"


def test_settings_file_overrides_defaults_and_environment_overrides_the_file(home, monkeypatch):
    monkeypatch.delenv("ASSISTANT_LLM_MODEL", raising=False)
    (home / "settings.toml").write_text('top_k = 7\nllm_model = "qwen2.5-coder-0.5b"\nui_port = 9000\n')
    monkeypatch.setenv("ASSISTANT_UI_PORT", "9100")
    settings = load_settings()
    assert settings.top_k == 7
    assert settings.llm_model == "qwen2.5-coder-0.5b"
    assert settings.ui_port == 9100


def test_unknown_key_in_the_settings_file_is_named(home):
    (home / "settings.toml").write_text("topk = 7\n")
    with pytest.raises(SettingsError, match="topk"):
        load_settings()


def test_invalid_environment_value_is_one_readable_error(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "many")
    with pytest.raises(SettingsError, match="ASSISTANT_TOP_K"):
        load_settings()


def test_empty_home_variable_means_the_default_data_directory_not_the_current_one(monkeypatch):
    from assistant.settings import default_home

    monkeypatch.setenv("ASSISTANT_HOME", "")
    assert load_settings().home == default_home().resolve()
