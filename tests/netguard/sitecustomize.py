"""Loaded by every Python process the tests start (PYTHONPATH): refuses and records any
connection to a non-loopback address, so a subprocess cannot reach out unnoticed.
The log file named by ASSISTANT_TEST_NETLOG is checked by the test that started the process."""
import os

from netguard_core import install

install(os.environ.get("ASSISTANT_TEST_NETLOG"))
