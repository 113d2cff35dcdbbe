"""The one typed settings object: defaults < ASSISTANT_HOME/settings.toml < ASSISTANT_* environment.

Everything else is built from a Settings instance by small factories, so a test, the CLI and the
UI configure the product the same way.
"""
from __future__ import annotations

import json
import logging
import os
import stat
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretBytes, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assistant.errors import SettingsError

log = logging.getLogger(__name__)

ENV_PREFIX = "ASSISTANT_"
SETTINGS_FILE_NAME = "settings.toml"
# How a secret that is set is shown (`assistant settings`): never its value, nor its length.
SECRET_MASK = "********"


def default_home() -> Path:
    """Where data lives when ASSISTANT_HOME is unset: the user's data directory."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("assistant", appauthor=False))


def resolve_home() -> Path:
    home = os.environ.get(ENV_PREFIX + "HOME")
    return Path(home).expanduser() if home else default_home()


# Per embedding model: (min_relevance, confident_relevance) where the settings leave them unset.
# A sentence-transformers folder of the user's own gets MiniLM's.
EVIDENCE_RELEVANCE: dict[str, tuple[float, float]] = {
    "all-minilm-l6-v2": (0.25, 0.45),
    "multilingual-e5-small": (0.80, 0.90),
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", validate_default=True)

    home: Path = Field(default_factory=resolve_home, description="Where collections, models and the manifest live.")

    # --- language model
    llm_backend: Literal["llama_cpp", "openai", "ollama"] = Field(
        "llama_cpp", description="llama_cpp runs the GGUF in-process; openai talks to an OpenAI-compatible server "
                                 "(vLLM, llama.cpp's server); ollama to an Ollama server (the ollama extra).")
    llm_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="A packaged model name (see `assistant models list`) or the path of a .gguf file of your own.")
    llm_threads: int = Field(2, ge=1, description="CPU threads for llama.cpp.")
    llm_context: int = Field(4096, ge=512, description="Context window in tokens.")
    llm_max_tokens: int = Field(200, ge=16, description="Longest answer in tokens.")
    llm_temperature: float = Field(0.1, ge=0.0, le=2.0, description="Sampling temperature of answers (checks and rewrites use 0).")
    llm_flash_attention: bool = Field(True, description="Flash attention in llama.cpp (off by default there; faster prompts on CPU).")
    llm_base_url: str = Field("http://127.0.0.1:8080/v1", description="The model server's endpoint (llm_backend=openai or ollama).")
    llm_api_key: SecretStr = Field(
        "", description="Key for the OpenAI-compatible endpoint, if it wants one (shown masked by `assistant settings`).")

    # --- embeddings
    embedding_model: str = Field(
        "all-minilm-l6-v2",
        description="all-minilm-l6-v2 (English, fast), multilingual-e5-small (French and English in one space, about a "
                    "tenth of the ingest speed) or a sentence-transformers folder. A collection is searched only with "
                    "the model that embedded it.")
    embedding_batch_size: int = Field(
        8, ge=1, description="Texts per forward pass: small batches pad less (measured best at 4-8, bench/DECISIONS.md).")

    # --- vector store
    chroma_mode: Literal["embedded", "server"] = Field(
        "embedded", description="embedded: Chroma in this process under ASSISTANT_HOME/chroma; server: a Chroma server.")
    chroma_host: str = Field("127.0.0.1", description="Chroma server address (chroma_mode=server).")
    chroma_port: int = Field(8000, ge=1, le=65535, description="Chroma server port (chroma_mode=server).")

    # --- ingestion
    chunk_tokens: int = Field(200, ge=32, le=256, description="Chunk size in embedder word pieces (MiniLM sees 256).")
    chunk_overlap: int = Field(30, ge=0, description="Word pieces shared by consecutive chunks (at most a quarter of a chunk).")
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped with a reason.")
    ocr_languages: str = Field(
        "eng+fra", pattern=r"^[a-z_]+(\+[a-z_]+)*$",
        description="Tesseract languages for scanned PDFs and images (each needs its tesseract-ocr-LANG package).")
    ocr_min_confidence: float = Field(
        60.0, ge=0.0, le=100.0,
        description="Scanned pages whose mean OCR word confidence is below this are ingested with a note in the summary.")
    ocr_workers: int = Field(2, ge=1, le=64, description="Tesseract processes at once (one core each).")

    # --- retrieval and answers
    default_collection: str = Field("default", description="The collection used when a command or the UI names none.")
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved for an answer.")
    context_tokens: int = Field(
        160, ge=32, le=3000,
        description="Prompt budget for passage excerpts: the model reads ~60 tokens/s on 2 cores, so this sets the wait.")
    section_neighbours: bool = Field(
        False, description="Excerpts may also quote the chunks next to a retrieved one under the same heading "
                           "(a section cut in two keeps its rule in view). Off: on the dev set it cost answers "
                           "(0.76 against 0.88) and 0.45 s to the first word.")
    ask_dropped_parts: bool = Field(
        True, description="When the answer to a split question leaves a part out, ask the model that part alone "
                          "(one more, shorter call over the same excerpts) and add its checked answer.")
    split_questions: bool = Field(
        True, description="Split a question that asks several things (\"..., and which ...?\") and give each part "
                          "its own passages and excerpt budget.")
    part_context_tokens: int = Field(
        120, ge=32, le=3000, description="Excerpt budget of each part of a split question when the parts share one prompt "
                                         "(answer_each_part off; each part asked alone gets context_tokens).")
    answer_each_part: bool = Field(
        False, description="Ask the model each part of a split question on its own, one after the other, and join "
                          "the answers (else one prompt lists the parts).")
    translate_queries: bool = Field(
        True, description="Also search a question in the other language (en/fr) when the collection holds it.")
    flag_unknown_terms: bool = Field(
        True, description="Tell the model which words of the question no document contains (helps it refuse).")
    check_facts: bool = Field(
        True, description="Check that every number, e-mail, URL and name of an answer is in the excerpt it cites; "
                          "if not, regenerate once, then quote the cited sentence instead.")
    check_rare_terms: Literal["auto", "on", "off"] = Field(
        "auto", description="When a subject word of the question is rare in the documents and absent from the excerpts, "
                            "ask the model whether the excerpts say it in other words, and refuse if not. "
                            "auto: with models that judge this reliably (the default 1.5B; not the 0.5B).")
    rare_term_share: float = Field(
        0.002, ge=0.0, le=1.0, description="A word in at most this share of the chunks counts as rare (in a small collection: in none).")
    hybrid_search: bool = Field(True, description="Fuse keyword (BM25) with dense search (reciprocal rank fusion).")
    retrieval_candidates: int = Field(40, ge=1, le=200, description="Candidates per ranking before fusion.")
    keyword_weight: float = Field(0.75, ge=0.0, le=5.0, description="Weight of the BM25 ranking in the fusion (dense: 1).")
    max_passages_per_file: int = Field(2, ge=0, description="At most this many passages of one file per answer (0: no limit).")
    min_relevance: float | None = Field(
        None, ge=-1.0, le=1.0,
        description="Cosine similarity below which a passage is not evidence; with none above it the answer is a refusal. "
                    "Unset: the embedding model's own (all-minilm-l6-v2 0.25, multilingual-e5-small 0.80).")
    confident_relevance: float | None = Field(
        None, ge=-1.0, le=1.0,
        description="Similarity above which the best passage is evidence without further checks. "
                    "Unset: the embedding model's own (all-minilm-l6-v2 0.45, multilingual-e5-small 0.90).")
    min_term_coverage: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Below confident_relevance, the share of the question's subject words the passages must contain.")

    # --- web UI
    ui_host: str = Field("127.0.0.1", description="Address the web UI binds; any other than loopback needs users.")
    ui_port: int = Field(7860, ge=1, le=65535)
    ui_require_login: bool = Field(False, description="Ask for a login even on 127.0.0.1.")
    ui_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the web UI answers to, besides the bound address and localhost (a name "
                    "staff type in the browser, e.g. assistant.example.internal). Any other Host is refused: "
                    "DNS rebinding cannot reach the UI.")
    ui_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port) allowed to send requests, besides the UI's own; none by default.")
    ui_secure_cookies: Literal["auto", "on", "off"] = Field(
        "auto", description="Mark the session cookie Secure: auto does when the request came over https "
                            "(a TLS proxy in front must send X-Forwarded-Proto, see ui_trust_proxy).")
    ui_trust_proxy: bool = Field(
        False, description="Believe X-Forwarded-Proto and X-Forwarded-For from the proxy in front (for "
                           "Secure cookies and throttling by client address). Off unless a proxy is there.")
    max_waiting_questions: int = Field(
        32, ge=1, le=1000,
        description="Questions that may wait for the model at once, from the chat and the API together; one more "
                    "is told at once that the assistant is busy and when to try again (the API: 429 with Retry-After).")
    log_format: Literal["text", "json"] = Field(
        "text", description="How `assistant ui` writes its log to stderr: text lines, or one JSON object per line "
                            "(at, level, logger, message, exception) for a log collector.")
    upload_max_files: int = Field(
        20, ge=1, le=1000, description="Most files one upload in the web UI may hold (each is also held to max_file_mb).")
    upload_max_total_mb: float = Field(
        200.0, gt=0, description="Most megabytes one upload in the web UI may hold in all; a larger one is refused whole.")

    # --- accounts
    accounts_url: SecretStr = Field(
        SecretStr(""), description="SQLAlchemy URL of the accounts database (users, groups, grants, sessions); "
                        "empty: SQLite at ASSISTANT_HOME/accounts.sqlite.")
    session_idle_minutes: int = Field(120, ge=1, description="A web session unused for this long ends.")
    session_lifetime_minutes: int = Field(
        720, ge=1, description="A web session ends this long after its login, however much it is used.")
    audit_retention_days: int = Field(
        365, ge=0, description="Audit events (logins, questions, documents opened, admin changes) older than this "
                               "are deleted; 0 keeps them forever.")

    @model_validator(mode="after")
    def _embedder_relevance(self) -> "Settings":
        # Similarity scales differ by embedder: e5 puts unrelated text at ~0.75 where MiniLM puts
        # it near 0.1 (bench/language_bench.py, bench/DECISIONS.md 2026-12-03).
        low, confident = EVIDENCE_RELEVANCE.get(self.embedding_model, EVIDENCE_RELEVANCE["all-minilm-l6-v2"])
        if self.min_relevance is None:
            self.min_relevance = low
        if self.confident_relevance is None:
            self.confident_relevance = confident
        return self

    @field_validator("home", mode="before")
    @classmethod
    def _empty_home_is_unset(cls, home):
        # ASSISTANT_HOME="" must not mean "the current directory".
        return default_home() if home is None or str(home).strip() == "" else home

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, home: Path) -> Path:
        return home.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls))

    # Paths derived from home: one place names them.
    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def models_path(self) -> Path:
        return self.home / "models"

    @property
    def manifest_path(self) -> Path:
        return self.home / "manifest.sqlite"

    @property
    def keywords_path(self) -> Path:
        return self.home / "keywords.sqlite"

    @property
    def uploads_path(self) -> Path:
        """Files added in the web UI, one folder per collection (ui/web/upload.py)."""
        return self.home / "uploads"

    @property
    def accounts_path(self) -> Path:
        return self.home / "accounts.sqlite"

    @property
    def users_path(self) -> Path:
        return self.home / "users.json"

    @property
    def settings_file(self) -> Path:
        return self.home / SETTINGS_FILE_NAME

    def for_display(self) -> dict:
        """Every value as JSON types, for showing to a person: a secret (any field of a pydantic
        Secret type, whatever its name) reads SECRET_MASK when set and "" when empty."""
        values = json.loads(self.model_dump_json())  # pydantic already masks secrets in JSON
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, (SecretStr, SecretBytes)):
                values[name] = SECRET_MASK if value.get_secret_value() else ""
        return values


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads ASSISTANT_HOME/settings.toml (flat keys, the same names as the fields)."""

    def __call__(self) -> dict:
        path = resolve_home() / SETTINGS_FILE_NAME
        if not path.is_file():
            return {}
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise SettingsError(f"cannot read settings file {path}: {e}") from e
        unknown = sorted(set(data) - set(Settings.model_fields))
        if unknown:
            raise SettingsError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
        return data

    def get_field_value(self, field, field_name):  # required by the base class; __call__ does the work
        return None, field_name, False


# Written in the home under a name no Settings property gives (ingest/manifest.py: its lock files).
_OTHER_HOME_ENTRIES = ("locks",)
_warned_homes: set[Path] = set()


def _product_entries(settings: Settings) -> set[str]:
    """The names of what the product writes in the home: every path property of Settings that
    lies directly in it, and the others above. A user's own files there are not among them."""
    names = set(_OTHER_HOME_ENTRIES)
    for name, attribute in vars(Settings).items():
        if isinstance(attribute, property):
            value = getattr(settings, name)
            if isinstance(value, Path) and value.parent == settings.home:
                names.add(value.name)
    return names


def make_private_dirs(path: Path) -> Path:
    """Create a folder and any missing parent readable by the owner only (0700); folders that
    exist already are left as they are (this may be anywhere: only the home is ever changed)."""
    missing = []
    folder = Path(path)
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by another process
            if not folder.is_dir():
                raise
    return Path(path)


def _remove_group_and_other(path: Path) -> None:
    """Take the group and other bits off path and all under it; links are neither followed nor changed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        return  # e.g. a models folder kept elsewhere: not ours to change
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~0o077)
    if stat.S_ISDIR(st.st_mode):
        for entry in os.scandir(path):
            _remove_group_and_other(Path(entry.path))


def ensure_private_home(settings: Settings) -> Path:
    """The home, created readable by its owner only (0700), or made so when found open to others.

    Every document ingested ends up in here as text, so 0700 on the home is what keeps other local
    accounts out: without search permission on it they cannot reach any file inside, whatever
    that file's own mode. A home found open (made before this rule, or by hand) is closed once,
    with a warning, and the product's own files in it lose their group and other bits as well, so
    that a copy that keeps modes (cp -a, rsync -a, a backup) does not expose them. Hard links to
    those files made elsewhere, and bind mounts of the home, cannot be told apart from the files
    themselves: this cannot close them."""
    home = make_private_dirs(settings.home)
    mode = stat.S_IMODE(home.stat().st_mode)
    if not mode & 0o077:
        return home
    try:
        home.chmod(0o700)
        ours = _product_entries(settings)
        ours |= {f"{name}-{side}" for name in ours if name.endswith(".sqlite") for side in ("wal", "shm", "journal")}
        for entry in os.scandir(home):
            if entry.name in ours:
                _remove_group_and_other(Path(entry.path))
    except OSError as e:
        if home not in _warned_homes:
            _warned_homes.add(home)
            log.warning("ASSISTANT_HOME %s is open to other accounts (mode %04o) and could not be made private: %s; "
                        "run chmod 700 on it", home, mode, e)
        return home
    if home not in _warned_homes:
        _warned_homes.add(home)
        log.warning("ASSISTANT_HOME %s was open to other accounts (mode %04o): made it private (0700)", home, mode)
    return home


def load_settings(**overrides) -> Settings:
    """Build Settings, turning validation problems into one readable SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        problems = "; ".join(
            f"{ENV_PREFIX}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors())
        raise SettingsError(f"invalid settings: {problems}") from None
