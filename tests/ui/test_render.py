"""What the chat shows is inert: the model's answer and the passages' text are escaped, so no image,
link, script or style from them reaches the page, and the only links are our own citations.

Every `<` of model or document text is escaped, so each literal `<` of the output opens a tag this
module wrote: the checks read those tags, and the text a reader sees (entities decoded)."""
from __future__ import annotations

import re
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakes import make_passage
from ui.render import CHATBOT_OPTIONS, answer_html, internal_link, question_html, sources_html

HOSTILE = [
    "![x](http://outside.example/a.png)",
    "<img src=http://outside.example/x>",
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[site](http://outside.example)",
    '<a href="//outside.example">home</a>',
    "&lt;b&gt; &amp; &#60;img src=http://outside.example/e&#62;",
    "<http://outside.example>",
    '<iframe src="http://outside.example/f"></iframe>',
    "<svg onload=alert(1)><circle r=9></svg>",
    '<span style="background:url(http://outside.example/s.png)">styled</span>',
    "<style>@import url(http://outside.example/c.css);</style>",
    "```mermaid\ngraph TD; A-->B\n```",
    "$$\\href{http://outside.example}{x}$$",
]
HOSTILE_TEXT = " ".join(h.replace("\n", " ") for h in HOSTILE)
SERVER_DIR = "/srv/company-secrets/hr"

TAGS_WE_WRITE = {"div", "p", "a", "br", "details", "summary", "strong", "em", "mark"}
ATTRIBUTES_WE_WRITE = {"href", "class", "id", "target", "rel", "title"}


class Page(HTMLParser):
    """The tags, attributes and visible text of a fragment."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def assert_inert(fragment: str) -> Page:
    for tag in re.findall(r"<[^>]*>", fragment):
        assert not re.search(r"src=|style=|\bon\w+=|javascript:|outside|<(img|script|iframe|svg|style)\b", tag,
                             re.IGNORECASE), tag
    page = Page(fragment)
    for tag, attrs in page.tags:
        assert tag in TAGS_WE_WRITE, tag
        assert set(attrs) <= ATTRIBUTES_WE_WRITE, (tag, attrs)
        if "href" in attrs:
            assert re.fullmatch(r"#source-\d+", attrs["href"]) or attrs["href"].startswith("/documents/"), attrs
    return page


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_answer_is_shown_as_text_and_fetches_or_runs_nothing(hostile):
    page = assert_inert(answer_html(f"Leave is 25 days [1]. {hostile}", n_sources=1))
    assert page.visible.replace("\n", "") == f"Leave is 25 days [1]. {hostile}".replace("\n", "")
    assert [attrs["href"] for _, attrs in page.tags if "href" in attrs] == ["#source-1"]


def test_citation_markers_link_only_to_the_sources_shown():
    fragment = answer_html("See [1], [2] and [3]; not [0].", n_sources=2)
    page = assert_inert(fragment)
    assert [attrs["href"] for _, attrs in page.tags if "href" in attrs] == ["#source-1", "#source-2"]
    assert '<a href="#source-1" class="cite">[1]</a>' in fragment
    assert page.visible == "See [1], [2] and [3]; not [0]."


def test_an_answer_with_no_sources_has_no_link_at_all():
    page = assert_inert(answer_html("The documents do not cover this [1].", n_sources=0))
    assert not any(tag == "a" for tag, _ in page.tags)


def test_line_breaks_of_the_answer_are_kept_and_no_raw_newline_is_left():
    fragment = answer_html("First line.\nSecond line [1].", n_sources=1)
    assert "\n" not in fragment and "First line.<br>Second line" in fragment


def test_hostile_passages_are_shown_as_text_under_their_file_name_not_the_server_path():
    passages = [make_passage(f"Full-time staff get 25 days. {HOSTILE_TEXT}", f"{SERVER_DIR}/leave-policy.md",
                             page=3, heading="Leave > Annual <img src=http://outside.example/h>"),
                make_passage("Part-time staff get it pro rata.", f"{SERVER_DIR}/<svg onload=alert(1)>.md",
                             heading="[site](http://outside.example)")]
    fragment = sources_html(passages, "Sources <script>alert(1)</script>")
    page = assert_inert(fragment)
    assert SERVER_DIR not in fragment and "/srv/" not in page.visible
    assert "leave-policy.md, page 3, Leave > Annual <img src=http://outside.example/h>" in page.visible
    assert HOSTILE_TEXT in page.visible
    assert "<svg onload=alert(1)>.md, [site](http://outside.example)" in page.visible
    assert "Sources <script>alert(1)</script>" in page.visible
    assert [attrs["id"] for tag, attrs in page.tags if tag == "details"] == ["source-1", "source-2"]
    assert [attrs["href"] for _, attrs in page.tags if attrs.get("class") == "open"] == [
        f"/documents/c/{p.chunk_id}#passage" for p in passages]


def test_no_passages_no_sources_block():
    assert sources_html([], "Sources") == ""


def test_the_users_question_is_shown_as_typed():
    page = assert_inert(question_html("Why <img src=http://outside.example/q> [1]?"))
    assert page.visible == "Why <img src=http://outside.example/q> [1]?"
    assert not any(tag == "a" for tag, _ in page.tags)


@pytest.mark.parametrize("path", ["/documents/hr/leave policy.pdf", "/documents/a/b.md",
                                  '/documents/x"onclick=alert(1)', "/documents/<img src=x>.md"])
def test_a_link_to_the_document_route_is_a_relative_path_under_it(path):
    href = internal_link(path)
    assert href.startswith("/documents/")
    assert not re.search(r"[\s\"'<>]", href), href


@pytest.mark.parametrize("path", [
    "http://outside.example/documents/x", "//outside.example/documents/x", "javascript:alert(1)",
    "documents/x", "/documentsx", "/other/x", "/documents/../admin", "/documents/./x", "/documents\\..\\x",
    "/documents/x\nSet-Cookie: a", "/documents/x?next=http://outside.example", "/documents/x#top",
    "/documents/x y\t", " /documents/x"])
def test_any_other_link_is_refused(path):
    with pytest.raises(ValueError):
        internal_link(path)


def test_an_anchor_name_cannot_carry_markup():
    with pytest.raises(ValueError):
        answer_html("[1]", 1, anchor='x" onclick="alert(1)')


# ---------------------------------------------------------------- in a real browser


def hostile_page() -> str:
    answer = answer_html(f"Leave is 25 days [1][2]. {HOSTILE_TEXT}", n_sources=2)
    passages = [make_passage(f"Full-time staff get 25 days. {HOSTILE_TEXT}", f"{SERVER_DIR}/leave.md",
                             heading="<img src=http://outside.example/h>"),
                make_passage(HOSTILE_TEXT, f"{SERVER_DIR}/<iframe src=http://outside.example>.md")]
    return page_around(answer + sources_html(passages, "Sources"))


def page_around(body: str) -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>t</title></head><body>{body}</body></html>"


@pytest.fixture
def serve():
    """Serves one HTML page at / on a loopback port; returns its URL."""
    servers = []

    def start(page: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = page.encode() if self.path == "/" else b"not here"
                self.send_response(200 if self.path == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def requests_made(url: str, ready: str = "body", marks: bool = False):
    """Every request the page makes while it loads and settles (none leaves: the browser aborts
    any that is not for loopback), and the visible text and link targets of `ready` once it is
    there (and, with `marks`, the visible text of each <mark>)."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_browser import BROWSER_ARGS, CHROMIUM

    requested: list[str] = []

    def loopback_only(route):
        if outside([route.request.url]):
            route.abort()
        else:
            route.continue_()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=BROWSER_ARGS)
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.route("**/*", loopback_only)
        page.goto(url)
        page.wait_for_selector(ready, timeout=30000)
        page.wait_for_timeout(1000)
        for summary in page.query_selector_all("details.source summary"):
            summary.click()  # an opened passage must not fetch either
        page.wait_for_timeout(500)
        text = page.inner_text(ready)
        links = [a.get_attribute("href") for a in page.query_selector_all(f"{ready} a")]
        marked = [m.inner_text() for m in page.query_selector_all(f"{ready} mark") if m.is_visible()]
        browser.close()
    return (requested, text, links, marked) if marks else (requested, text, links)


def outside(urls: list[str]) -> list[str]:
    return [u for u in urls if not u.startswith(("http://127.0.0.1:", "about:", "data:"))]


@pytest.mark.slow
def test_the_browser_would_fetch_the_hostile_markup_if_it_were_not_escaped(serve):
    """The premise of the check below: raw, this markup makes the browser reach out."""
    requested, _, _ = requests_made(serve(page_around(HOSTILE_TEXT)))
    assert any("outside.example" in u for u in outside(requested)), requested


@pytest.mark.slow
def test_a_page_of_hostile_answer_and_sources_requests_nothing_off_the_machine_and_shows_the_text(serve):
    requested, text, links = requests_made(serve(hostile_page()))
    assert outside(requested) == []
    assert links[:2] == ["#source-1", "#source-2"] and all(link.startswith("/documents/c/") for link in links[2:])
    assert "Leave is 25 days [1][2]." in text
    for hostile in HOSTILE:
        assert hostile.replace("\n", " ") in text
    assert "<img src=http://outside.example/h>" in text and "/srv/" not in text


@pytest.fixture
def chatbot_page():
    """A Gradio app on a loopback port whose only component is a Chatbot showing one exchange."""
    import gradio as gr

    from tests.conftest import free_port

    apps = []

    def start(content: str, **options) -> str:
        with gr.Blocks(analytics_enabled=False) as app:
            gr.Chatbot(value=[{"role": "user", "content": question_html("How many days?")},
                              {"role": "assistant", "content": content}], **options)
        port = free_port()
        app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False,
                   share=False)
        apps.append(app)
        return f"http://127.0.0.1:{port}/"

    yield start
    for app in apps:
        app.close()


@pytest.mark.slow
def test_gradios_chatbot_with_its_default_options_would_fetch_from_a_raw_answer(chatbot_page):
    """Why the options matter: Markdown images and styles pass Gradio's own sanitiser."""
    requested, _, _ = requests_made(chatbot_page(f"Leave is 25 days [1]. {HOSTILE_TEXT}"), "[data-testid='bot']")
    assert any("outside.example" in u for u in outside(requested)), requested


@pytest.mark.slow
def test_gradios_chatbot_with_our_options_shows_our_markup_and_the_hostile_text_and_fetches_nothing(chatbot_page):
    passages = [make_passage(f"Full-time staff get 25 days. {HOSTILE_TEXT}", f"{SERVER_DIR}/leave.md",
                             heading="<img src=http://outside.example/h>", collection="handbook")]
    content = answer_html(f"Leave is 25 days [1]. {HOSTILE_TEXT}", 1) + sources_html(
        passages, "Sources", quotes=["Full-time staff get 25 days."])
    requested, text, links, marked = requests_made(chatbot_page(content, **CHATBOT_OPTIONS),
                                                   "[data-testid='bot']:has(details.source)", marks=True)
    assert outside(requested) == []
    assert links == ["#source-1", f"/documents/handbook/{passages[0].chunk_id}#passage"], \
        "the citation and the open link survive Gradio's sanitiser as our links"
    assert marked == ["Full-time staff get 25 days.", "Full-time staff get 25 days."], \
        "the sentence the answer used is highlighted, in the summary and in the opened passage"
    for hostile in HOSTILE:
        assert hostile.replace("\n", " ") in text
    assert "leave.md, <img src=http://outside.example/h>" in text and "/srv/" not in text


def test_the_sentence_an_answer_relies_on_is_highlighted_in_its_source_and_stays_inert():
    from tests.fakes import make_passage

    passage = make_passage("Badges open the door. Full-time staff get 25 days <img src=x> of leave. Parking is free.",
                           "/srv/hr/leave.md")
    out = sources_html([passage], "Sources", quotes=["Full-time staff get 25 days <img src=x> of leave."])
    assert "<mark>Full-time staff get 25 days &lt;img src=x&gt; of leave.</mark>" in out
    assert "<img" not in out
    assert "<mark>" not in sources_html([passage], "Sources", quotes=["a sentence the passage does not hold"])


# ---------------------------------------------------------------- numbering, paths, the open link


def test_sources_listed_in_citation_order_keep_the_numbers_the_answer_cites_them_by():
    """The answerer lists excerpts 3 and 1 for "[3] ... [1]": the answer's [3] must jump to the
    source shown as [3], which is the first listed."""
    from ui.render import source_numbers

    text = "Full-time staff get 25 days [3]. Part-time staff get it pro rata [1]."
    sources = [make_passage("Full-time staff get 25 days.", "/d/full.md"),
               make_passage("Part-time staff get it pro rata.", "/d/part.md")]
    numbers = source_numbers(text, len(sources))
    assert numbers == [3, 1]
    answer = answer_html(text, len(sources), numbers=numbers)
    listed = sources_html(sources, "Sources", numbers=numbers)
    assert [attrs["href"] for _, attrs in Page(answer).tags if "href" in attrs] == ["#source-3", "#source-1"]
    ids = [(attrs["id"]) for tag, attrs in Page(listed).tags if tag == "details"]
    assert ids == ["source-3", "source-1"]
    assert Page(listed).visible.index("[3] full.md") < Page(listed).visible.index("[1] part.md")


def test_an_answer_citing_nothing_numbers_its_sources_in_order_and_a_quoted_user_marker_is_ignored():
    from ui.render import source_numbers

    assert source_numbers("The documents do not say.", 2) == [1, 2]
    assert source_numbers("Leave is 25 days [2]. The documents do not state: part [5]", 1) == [2]
    assert source_numbers("Cited [4] only once, yet two sources", 2) == [1, 2]


def test_a_source_shows_its_path_inside_the_ingested_folder_and_a_slide_as_a_slide():
    from assistant.passage import MetadataKey

    passage = make_passage("Badges open the door.", "/srv/company/hr/policies/badges.md", heading="Access")
    passage.node.metadata[MetadataKey.ROOT] = "/srv/company/hr"
    slide = make_passage("Q3 revenue grew.", "/srv/company/sales/q3.pptx", page=4)
    slide.node.metadata[MetadataKey.ROOT] = "/srv/company/sales"
    outside_root = make_passage("Odd.", "/elsewhere/x.md")
    outside_root.node.metadata[MetadataKey.ROOT] = "/srv/company/hr"
    visible = Page(sources_html([passage, slide, outside_root], "Sources")).visible
    assert "[1] policies/badges.md, Access" in visible and "[2] q3.pptx, slide 4" in visible
    assert "[3] x.md" in visible and "/srv/" not in visible and "/elsewhere" not in visible
    assert passage.label() == "badges.md, Access", "the model's prompt keeps the file name"


def test_the_open_link_goes_to_a_pdfs_page_or_to_the_passage_of_any_other_file():
    pdf = make_passage("Expense claims are reimbursed.", "/d/guide.pdf", page=2, collection="hr-docs",
                       chunk_id="a1b2c3d4e5f60718-0123456789abcdef-3")
    text = make_passage("Badges.", "/d/badges.md", collection="hr-docs", chunk_id="c0ffee")
    unnamed = make_passage("No id a link can name.", "/d/x.md", collection="../etc", chunk_id="c0ffee")
    hrefs = [attrs["href"] for _, attrs in Page(sources_html([pdf, text, unnamed], "Sources")).tags
             if attrs.get("class") == "open"]
    assert hrefs == ["/documents/hr-docs/a1b2c3d4e5f60718-0123456789abcdef-3#page=2",
                     "/documents/hr-docs/c0ffee#passage"]


@pytest.mark.parametrize("fragment", ["page=0", "page=x", "top\nx", "passage\"", "page=2&x=1", "#x"])
def test_a_link_fragment_is_a_page_number_or_an_anchor_name_only(fragment):
    with pytest.raises(ValueError):
        internal_link("/documents/a/b", fragment=fragment)


def test_while_an_answer_streams_its_passages_are_listed_without_numbers():
    listed = sources_html([make_passage("Badges.", "/d/badges.md")], "Sources", numbered=False)
    assert "[1]" not in Page(listed).visible and 'id="' not in listed


def test_a_documents_text_page_is_escaped_and_marks_the_cited_passage():
    from ui.render import DocumentBlock, document_page

    hostile = "<img src=http://outside.example/d> <script>alert(1)</script>"
    page = document_page(f"hr/{hostile}.md", "hr-docs", [
        DocumentBlock("page 1 — Leave", f"Intro. {hostile} Full-time staff get 25 days. Outro.", (len("Intro. "), 60)),
        DocumentBlock("", "Second section.")], notice="changed <b>since</b>")
    assert "<img" not in page and "<script" not in page and "<b>" not in page
    assert re.search(r'<mark id="passage" class="cited">&lt;img src=http://outside.example/d&gt; ', page)
    assert "&lt;b&gt;since&lt;/b&gt;" in page and "src=" not in re.sub(r"&lt;.*?&gt;", "", page)
