"""The model behind llama-index's LLM seam: the in-process GGUF, an OpenAI-compatible server through
llama-index's OpenAILike (a real llama.cpp server on loopback, serving the test GGUF), and the
optional Ollama integration, each chosen by `llm_backend`."""
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from assistant.answer import TextDelta
from assistant.components import Components
from assistant.errors import LLMError
from assistant.llm import ChatModel, LlamaCppLLM, build_llm, system, user
from assistant.models import llm_path
from tests.conftest import NETGUARD, free_port


def components_on(seeded, **settings) -> Components:
    components = Components(seeded.settings.model_copy(update=settings))
    components.embedder, components.store = seeded.embedder, seeded.store
    return components


@pytest.fixture(scope="module")
def model_server(seeded, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server on a loopback port, under the network guard."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=NETGUARD.as_posix())
    log_path = tmp_path_factory.mktemp("model-server") / "server.log"
    log = log_path.open("w")  # a file, not a pipe: llama.cpp's load log would fill a pipe and block it
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(llm_path(seeded.settings)), "--host", "127.0.0.1",
         "--port", str(port), "--model_alias", "company-model", "--n_ctx", "4096", "--n_threads", "2",
         "--flash_attn", "true"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(f"the model server exited: {log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail("the model server did not answer within 120 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_the_in_process_model_is_a_llama_index_llm_with_per_call_limits(seeded):
    model = seeded.chat_model
    assert isinstance(model.llm, LlamaCppLLM)
    short = model.reply([system("Answer in one word."), user("Name a colour.")], max_tokens=2)
    assert 0 < model.count_tokens(short) <= 3
    chat = model.llm.chat([user("Reply with the single word: yes")], max_tokens=4)
    assert chat.message.content.strip()


@pytest.mark.slow
def test_answers_come_from_an_openai_compatible_server_through_openai_like(seeded, model_server):
    from llama_index.llms.openai_like import OpenAILike

    components = components_on(seeded, llm_backend="openai", llm_base_url=model_server, llm_model="company-model")
    assert isinstance(components.chat_model.llm, OpenAILike)
    events = list(components.answerer.stream("What is the extension of the IT helpdesk?", ["default"]))
    answer = events[-1].answer
    assert sum(isinstance(e, TextDelta) for e in events) > 1, "the server's answer is streamed"
    assert "4357" in answer.text and not answer.refused
    assert ("onboarding-guide.pdf", 2) in [(s.file_name, s.page) for s in answer.sources]


@pytest.mark.slow
def test_per_call_limits_reach_the_server(seeded, model_server):
    model = components_on(seeded, llm_backend="openai", llm_base_url=model_server,
                          llm_model="company-model").chat_model
    reply = model.reply([system("You write long stories."), user("Tell me a story about a ship.")], max_tokens=3)
    assert 0 < len(reply.split()) <= 4, reply


def test_a_model_server_that_cannot_be_reached_is_one_clear_error(seeded):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    components = components_on(seeded, llm_backend="openai", llm_base_url=dead, llm_model="company-model")
    with pytest.raises(LLMError, match=f"the model server at {dead} failed"):
        components.answerer.ask("What is the extension of the IT helpdesk?", ["default"])


def test_the_ollama_backend_names_the_extra_it_needs_when_missing(tmp_path):
    from assistant.settings import load_settings

    try:
        import llama_index.llms.ollama  # noqa: F401
    except ImportError:
        with pytest.raises(LLMError, match=r"pip install -e '\.\[ollama\]'"):
            build_llm(load_settings(home=tmp_path, llm_backend="ollama", llm_model="llama3"))
    else:
        from llama_index.llms.ollama import Ollama

        assert isinstance(build_llm(load_settings(home=tmp_path, llm_backend="ollama", llm_model="llama3")), Ollama)


def test_any_llama_index_llm_can_answer(seeded):
    """A company's own llama-index LLM plugs in as it is: here the in-process one, wrapped anew."""
    model = ChatModel(seeded.chat_model.llm)
    assert model.count_tokens("hello world") >= 2
    assert model.reply([user("Reply with the single word: yes")], max_tokens=3)
