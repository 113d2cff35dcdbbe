"""E-mail (.eml): the headers a reader looks at, the body, and the names of the attachments.

The subject is the heading. The plain-text part is preferred; an HTML-only mail is reduced to
its visible text as an HTML page is. A part in a charset Python does not know is decoded the way
a text file is rather than lost.
"""
from __future__ import annotations

from pathlib import Path

from assistant.passage import HeadingPath
from ingest.readers.common import Section, clean, one_line
from ingest.readers.html_page import html_blocks
from ingest.readers.registry import register
from ingest.readers.text import decode_text


def _part_text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):  # unknown or wrong charset
        payload = part.get_payload(decode=True) or b""
        return decode_text(payload) if payload else ""


@register(".eml")
def read_eml(path: Path) -> list[Section]:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())

    def header(name: str) -> str:
        try:
            value = message[name]
        except Exception:  # a header too malformed to parse
            value = ""
        return one_line(str(value or ""), 1000)

    lines = [f"{name}: {header(name)}" for name in ("Subject", "From", "To", "Cc", "Date") if header(name)]
    body_part = message.get_body(preferencelist=("plain", "html"))
    body = ""
    if body_part is not None:
        content = _part_text(body_part)
        if body_part.get_content_subtype() == "html":
            content = "\n".join(text for _, text in html_blocks(content))
        body = content
    attachments = []
    for part in message.iter_attachments() if message.is_multipart() else ():
        name = part.get_filename()
        if name:
            attachments.append(one_line(name, 200))
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    text = clean("\n".join(lines) + "\n\n" + body)
    return [Section(text=text, heading=HeadingPath([header("Subject")]))] if text else []
