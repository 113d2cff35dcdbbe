"""Packaged model weights: assembled once from their registry packages, verified before use."""
import hashlib
import json
import os
import shutil
import stat

import pytest

from assistant import models
from assistant.models import PACKAGED_LLMS, ModelError, PackagedGGUF, installed_llms, llm_path, sha256_of
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


# --- the sha256 is checked once, then again only when the file changes. These run on a few MB
# of bytes written by the test, registered as a packaged model of their own.

PART = 1_500_000  # bytes per part; two parts make the model


def _bytes(seed: int) -> bytes:
    return hashlib.shake_256(f"model bytes {seed}".encode()).digest(2 * PART)


def _register(monkeypatch, tmp_path, name: str, data: bytes, prefix: str | None = None) -> PackagedGGUF:
    """A PackagedGGUF for data; with prefix, also two part packages on sys.path that hold it."""
    modules = ()
    if prefix:
        site = tmp_path / f"site-{name}"
        for number, chunk in enumerate((data[:PART], data[PART:]), 1):
            package = site / f"{prefix}{number}"
            (package / "data").mkdir(parents=True)
            (package / "__init__.py").write_text("")
            (package / "data" / f"part{number:02d}.bin").write_bytes(chunk)
        monkeypatch.syspath_prepend(str(site))
        modules = (f"{prefix}1", f"{prefix}2")
    model = PackagedGGUF(name=name, description="test bytes", modules=modules, member="data/part{:02d}.bin",
                         size=len(data), sha256=hashlib.sha256(data).hexdigest(), pip_install="(test)")
    monkeypatch.setitem(PACKAGED_LLMS, name, model)
    return model


@pytest.fixture
def hashes(monkeypatch):
    """The paths sha256_of was asked to hash, in order."""
    calls = []

    def counting(path, *args, **kwargs):
        calls.append(path)
        return sha256_of(path, *args, **kwargs)

    monkeypatch.setattr(models, "sha256_of", counting)
    return calls


def _settings(tmp_path, name):
    return load_settings(home=tmp_path / "home", llm_model=name)


def _flip_byte(path, offset=PART + 4096):
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_assembly_records_its_check_so_no_load_hashes_the_file_again(tmp_path, monkeypatch, hashes):
    model = _register(monkeypatch, tmp_path, "tiny-parts", _bytes(1), prefix="_assistant_test_tiny_parts_")
    settings = _settings(tmp_path, model.name)
    path = llm_path(settings)
    assert path == settings.models_path / "tiny-parts.gguf"
    assert path.read_bytes() == _bytes(1)
    assert llm_path(settings) == path
    assert hashes == []  # the join hashed the bytes as it wrote them
    stamp = settings.models_path / "tiny-parts.gguf.verified"
    assert stat.S_IMODE(stamp.stat().st_mode) == 0o600
    recorded = json.loads(stamp.read_text())
    assert recorded["sha256"] == model.sha256 and recorded["name"] == model.name
    assert (recorded["size"], recorded["mtime_ns"]) == (path.stat().st_size, path.stat().st_mtime_ns)
    assert not [p for p in settings.models_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_model_file_without_a_stamp_is_hashed_once_then_trusted_while_unchanged(tmp_path, monkeypatch, hashes):
    model = _register(monkeypatch, tmp_path, "tiny", _bytes(2))
    settings = _settings(tmp_path, model.name)
    settings.models_path.mkdir(parents=True)
    (settings.models_path / "tiny.gguf").write_bytes(_bytes(2))  # e.g. copied in by hand
    path = llm_path(settings)
    assert len(hashes) == 1
    for _ in range(3):
        assert llm_path(settings) == path
    assert len(hashes) == 1
    assert (settings.models_path / "tiny.gguf.verified").is_file()


def test_a_file_tampered_after_its_check_is_refused(tmp_path, monkeypatch, hashes):
    model = _register(monkeypatch, tmp_path, "tiny-parts", _bytes(3), prefix="_assistant_test_tamper_parts_")
    settings = _settings(tmp_path, model.name)
    path = llm_path(settings)
    stamp = settings.models_path / "tiny-parts.gguf.verified"
    assert stamp.is_file() and hashes == []
    _flip_byte(path)  # same size, one byte changed: the mtime moves
    with pytest.raises(ModelError, match="fails its sha256 check"):
        llm_path(settings)
    assert len(hashes) == 1
    assert not stamp.exists()  # a failed check leaves no stamp behind
    _flip_byte(path)  # the right bytes again: checked, stamped
    llm_path(settings)
    assert len(hashes) == 2 and stamp.is_file()


def test_a_file_tampered_with_its_mtime_set_back_is_still_refused(tmp_path, monkeypatch, hashes):
    """touch -r after editing the bytes: size and mtime match the stamp, the ctime does not."""
    model = _register(monkeypatch, tmp_path, "tiny-parts", _bytes(9), prefix="_assistant_test_touch_parts_")
    settings = _settings(tmp_path, model.name)
    path = llm_path(settings)
    before = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    with pytest.raises(ModelError, match="fails its sha256 check"):
        llm_path(settings)
    assert len(hashes) == 1


def test_a_stamp_that_no_longer_matches_the_file_means_hashing_again(tmp_path, monkeypatch, hashes):
    model = _register(monkeypatch, tmp_path, "tiny", _bytes(4))
    settings = _settings(tmp_path, model.name)
    settings.models_path.mkdir(parents=True)
    path = settings.models_path / "tiny.gguf"
    path.write_bytes(_bytes(4))
    llm_path(settings)
    assert len(hashes) == 1
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # same bytes, new mtime
    llm_path(settings)
    assert len(hashes) == 2  # hashed again, still good, stamp renewed
    llm_path(settings)
    assert len(hashes) == 2
    with path.open("ab") as f:  # another size: refused before any hashing, whatever the stamp says
        f.write(b"\0")
    with pytest.raises(ModelError, match="bytes, expected"):
        llm_path(settings)
    assert len(hashes) == 2


@pytest.mark.parametrize("content", [b"", b"{not json", b"\xff\xfe", b"[]", b'"verified"', b'{"sha256": null}'])
def test_a_corrupt_or_unreadable_stamp_means_hashing_again(tmp_path, monkeypatch, hashes, content):
    model = _register(monkeypatch, tmp_path, "tiny", _bytes(5))
    settings = _settings(tmp_path, model.name)
    settings.models_path.mkdir(parents=True)
    (settings.models_path / "tiny.gguf").write_bytes(_bytes(5))
    llm_path(settings)
    stamp = settings.models_path / "tiny.gguf.verified"
    stamp.write_bytes(content)
    llm_path(settings)
    assert len(hashes) == 2
    assert json.loads(stamp.read_text())["sha256"] == model.sha256  # rewritten after the new check
    llm_path(settings)
    assert len(hashes) == 2


def test_a_stamp_written_for_another_model_does_not_vouch_for_this_one(tmp_path, monkeypatch, hashes):
    """tiny-b.gguf holds tiny-a's bytes (same size), with a stamp that truly records those bytes
    checked as tiny-a: loading it as tiny-b hashes it and refuses it."""
    a = _register(monkeypatch, tmp_path, "tiny-a", _bytes(6))
    b = _register(monkeypatch, tmp_path, "tiny-b", _bytes(7))
    assert a.size == b.size and a.sha256 != b.sha256
    settings_a = _settings(tmp_path, a.name)
    settings_a.models_path.mkdir(parents=True)
    (settings_a.models_path / "tiny-a.gguf").write_bytes(_bytes(6))
    llm_path(settings_a)
    path_b = settings_a.models_path / "tiny-b.gguf"
    os.rename(settings_a.models_path / "tiny-a.gguf", path_b)
    stamp = json.loads((settings_a.models_path / "tiny-a.gguf.verified").read_text())
    stamp.update(models._fingerprint(path_b))  # the stamp matches the file exactly, but names tiny-a
    (settings_a.models_path / "tiny-b.gguf.verified").write_text(json.dumps(stamp))
    with pytest.raises(ModelError, match="fails its sha256 check"):
        llm_path(_settings(tmp_path, b.name))
    assert hashes[-1] == path_b


def test_a_one_file_package_is_checked_in_place_and_its_stamp_kept_in_the_home(tmp_path, monkeypatch, hashes):
    data = _bytes(8)
    site = tmp_path / "site"
    (site / "_assistant_test_one_file").mkdir(parents=True)
    (site / "_assistant_test_one_file" / "__init__.py").write_text("")
    (site / "_assistant_test_one_file" / "tiny.gguf").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    model = PackagedGGUF(name="tiny-one", description="test bytes", modules=("_assistant_test_one_file",),
                         member="tiny.gguf", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                         pip_install="(test)")
    monkeypatch.setitem(PACKAGED_LLMS, model.name, model)
    settings = _settings(tmp_path, model.name)
    path = llm_path(settings)
    assert path == site / "_assistant_test_one_file" / "tiny.gguf"
    assert llm_path(settings) == path
    assert len(hashes) == 1
    assert (settings.models_path / "tiny-one.gguf.verified").is_file()
    assert not (site / "_assistant_test_one_file" / "tiny.gguf.verified").exists()
