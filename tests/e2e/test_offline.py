"""Offline, proven: with only a loopback interface (`unshare -rn`), the product ingests, answers
and serves its UI. Python processes also run under the test network guard (see tests/netguard),
which records any attempt to reach beyond loopback."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ASSISTANT, NETGUARD, SEEDS, TEST_MODEL, free_port, make_home, unshare_available

NO_UNSHARE = unshare_available()

UI_PROBE = """
import sys, time, urllib.request
url = sys.argv[1]
for _ in range(240):
    try:
        body = urllib.request.urlopen(url, timeout=2).read().decode()
        print("UI-UP", len(body), "Document assistant" in body)
        sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit("UI did not answer")
"""


@pytest.mark.slow
@pytest.mark.skipif(NO_UNSHARE is not None, reason=f"no network namespace: {NO_UNSHARE}")
def test_ingest_ask_and_ui_work_with_no_network_at_all(tmp_path, shared_models_dir):
    home = make_home(tmp_path / "home", shared_models_dir)
    netlog = tmp_path / "netlog.txt"
    port = free_port()
    probe = tmp_path / "probe.py"
    probe.write_text(UI_PROBE)
    script = f"""
set -e
ip link set lo up
"{ASSISTANT}" ingest "{SEEDS}" --json > "{tmp_path}/ingest.json"
"{ASSISTANT}" ask "How many weeks of parental leave does the second parent get?" --json > "{tmp_path}/ask.json"
"{ASSISTANT}" ui --port {port} > "{tmp_path}/ui.log" 2>&1 &
ui=$!
"{sys.executable}" "{probe}" http://127.0.0.1:{port}/
kill $ui
wait $ui || true
"""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path), "ASSISTANT_HOME": str(home),
           "PYTHONPATH": str(NETGUARD), "ASSISTANT_TEST_NETLOG": str(netlog),
           "ASSISTANT_LLM_MODEL": TEST_MODEL}
    result = subprocess.run(["unshare", "-rn", "bash", "-c", script], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    ingest = json.loads((tmp_path / "ingest.json").read_text())
    assert len(ingest["added"]) == 5 and ingest["failed"] == []
    answer = json.loads((tmp_path / "ask.json").read_text())
    assert "4" in answer["answer"] and "week" in answer["answer"].lower()
    assert answer["sources"][0]["source"].endswith("leave-policy.md")
    assert "UI-UP" in result.stdout and "True" in result.stdout
    assert f"http://127.0.0.1:{port}" in (tmp_path / "ui.log").read_text()
    attempts = netlog.read_text() if netlog.exists() else ""
    assert attempts == "", f"the product tried to reach the network: {attempts}"


def test_network_guard_itself_catches_an_outbound_connection(tmp_path):
    """The guard that the offline tests rely on must really catch a connection attempt."""
    netlog = tmp_path / "netlog.txt"
    code = "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=1)\nexcept OSError as e:\n    print('refused', e)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={"PYTHONPATH": str(NETGUARD), "ASSISTANT_TEST_NETLOG": str(netlog)})
    assert "test network guard" in result.stdout
    assert "192.0.2.1" in netlog.read_text()
