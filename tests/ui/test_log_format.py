"""log_format = "json": the web worker's log as one JSON object per line, for a log collector."""
import io
import json
import logging


def test_json_log_lines_carry_time_level_logger_message_and_the_exception():
    from ui.log_format import use_log_format

    root = logging.getLogger()
    stream = io.StringIO()
    saved, root.handlers = root.handlers, [logging.StreamHandler(stream)]  # the worker's stderr, here
    try:
        use_log_format("json")
        logging.getLogger("ui.web.chat").warning("answering failed: %s", "the model server at 127.0.0.1 failed")
        try:
            raise ValueError("a bug")
        except ValueError:
            logging.getLogger("ui.web.app").exception("unexpected")
    finally:
        root.handlers = saved
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (first["level"], first["logger"], first["message"]) == (
        "warning", "ui.web.chat", "answering failed: the model server at 127.0.0.1 failed")
    assert first["at"].endswith("Z") and "T" in first["at"]
    assert second["level"] == "error" and "ValueError: a bug" in second["exception"]


def test_text_leaves_the_log_as_it_is():
    from ui.log_format import use_log_format

    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    formatter = logging.Formatter("%(message)s")
    handler.setFormatter(formatter)
    saved, root.handlers = root.handlers, [handler]
    try:
        use_log_format("text")
    finally:
        root.handlers = saved
    assert handler.formatter is formatter
