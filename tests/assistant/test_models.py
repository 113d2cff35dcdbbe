"""Packaged model weights: assembled once from their registry packages, verified before use."""
import shutil

import pytest

from assistant.models import PACKAGED_LLMS, ModelError, installed_llms, llm_path, sha256_of
from assistant.settings import load_settings
from tests.conftest import TEST_MODEL


def test_test_model_is_assembled_and_matches_its_published_sha256(home):
    path = llm_path(load_settings(llm_model=TEST_MODEL))
    model = PACKAGED_LLMS[TEST_MODEL]
    assert path.stat().st_size == model.size
    assert sha256_of(path) == model.sha256
    assert installed_llms()[TEST_MODEL] is True


def test_a_tampered_model_file_is_refused_before_it_is_loaded(tmp_path, home):
    settings = load_settings(llm_model=TEST_MODEL)
    good = llm_path(settings)
    models = tmp_path / "models"
    models.mkdir()
    tampered = models / good.name
    shutil.copyfile(good, tampered)
    with tampered.open("r+b") as f:  # same size, one byte changed
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    other = tmp_path / "other-home"
    other.mkdir()
    (other / "models").symlink_to(models)
    with pytest.raises(ModelError, match="sha256"):
        llm_path(load_settings(home=other, llm_model=TEST_MODEL))


def test_unknown_model_name_lists_the_packaged_ones(home):
    with pytest.raises(ModelError, match="qwen2.5-coder-1.5b"):
        llm_path(load_settings(llm_model="gpt-5"))


def test_a_missing_gguf_path_is_named(home, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        llm_path(load_settings(llm_model=str(tmp_path / "mine.gguf")))
