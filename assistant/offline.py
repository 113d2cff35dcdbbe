"""Closes every door the stack would open to the internet, before any heavy library is imported.

Each line answers a measured call home (see the project's FACTS): model hubs, telemetry, a
version check, tokenizer and NLTK data downloads. Imported first by `assistant/__init__.py`.
"""
import os

_FORCED = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "GRADIO_TELEMETRY_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}

# llama-index reads its bundled tiktoken/NLTK data only while these are unset; set, it downloads.
_MUST_BE_UNSET = ("TIKTOKEN_CACHE_DIR", "NLTK_DATA")


def apply() -> None:
    for name, value in _FORCED.items():
        os.environ[name] = value
    for name in _MUST_BE_UNSET:
        os.environ.pop(name, None)


apply()
