"""The audit trail as text, for both faces that show it (`assistant audit` and the admin page):
one reading of "since", one line per event's detail."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from assistant.errors import UsageError


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """YYYY-MM-DD or an ISO time (UTC unless it names a zone), or a span back from now: 7d, 24h."""
    text = text.strip()
    if text[:-1].isdigit() and text[-1:] in ("d", "h"):
        amount = int(text[:-1])
        span = timedelta(days=amount) if text[-1] == "d" else timedelta(hours=amount)
        return (now or datetime.now(timezone.utc)) - span
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"since {text!r} is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC unless a zone is "
                         "given), or a span back from now such as 7d or 24h") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def detail_line(detail: dict) -> str:
    """An event's detail on one line: key=value, lists joined by commas (passages by their files),
    a text with spaces quoted, anything nested as JSON."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, list):
            value = ",".join(item.get("file", "") if isinstance(item, dict) else str(item) for item in value) or "-"
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        elif isinstance(value, str) and " " in value:
            value = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={value}")
    return " ".join(parts)
