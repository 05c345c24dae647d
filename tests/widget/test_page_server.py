"""The widget page server, as its own process, with a stand-in build folder (no npm, no browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.widget.conftest import PageServer, start_page_server
from tests.widget.page import widget_index

pytestmark = pytest.mark.http

SERVER_URL = "http://127.0.0.1:9"  # never contacted: the page server only writes it into pages
INDEX = '<!doctype html><html><head></head><body><script src="livechat/bundle.js"></script></body></html>'


@pytest.fixture(scope="module")
def page_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageServer]:
    root = tmp_path_factory.mktemp("page-server")
    build = root / "build"
    build.mkdir()
    (build / "index.html").write_text(INDEX, "utf-8")
    (build / "bundle.js").write_text("window.loaded = true;\n", "utf-8")
    (build / "rocketchat-livechat.min.js").write_text("/* loader */\n", "utf-8")
    (root / "secret.txt").write_text("outside the build folder\n", "utf-8")
    server = start_page_server(SERVER_URL, build)
    try:
        yield server
    finally:
        server.stop()


def test_host_page_embeds_the_widget_with_rocket_chats_snippet(page_server: PageServer) -> None:
    page = httpx.get(page_server.site_url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    site = page_server.site_url
    assert f"j.src = '{site}/livechat/rocketchat-livechat.min.js?_=201903270000';" in page.text
    assert f"}})(window, document, 'script', '{site}/livechat');" in page.text
    assert "w.RocketChat.url = u;" in page.text


@pytest.mark.parametrize("path", ["/livechat", "/livechat/", "/livechat?version=1"])
def test_widget_index_gets_the_server_url_first_thing_in_body(page_server: PageServer, path: str) -> None:
    answer = httpx.get(page_server.site_url + path, timeout=10)
    assert answer.status_code == 200
    assert answer.text == INDEX.replace("<body>", f"<body><script> SERVER_URL = '{SERVER_URL}'; </script>")


def test_widget_files_are_served_from_the_build_folder_only(page_server: PageServer) -> None:
    script = httpx.get(page_server.site_url + "/livechat/bundle.js?_=1", timeout=10)
    assert (script.status_code, script.text) == (200, "window.loaded = true;\n")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    for path in (
        "/livechat/../secret.txt",
        "/livechat/%2e%2e/secret.txt",
        "/livechat/missing.js",
        "/secret.txt",
    ):
        assert httpx.get(page_server.site_url + path, timeout=10).status_code == 404, path


def test_a_quote_in_the_server_url_cannot_end_the_script_string() -> None:
    page = widget_index("<body></body>", "http://127.0.0.1:1/'; alert(1); '")
    assert page == b"<body><script> SERVER_URL = 'http://127.0.0.1:1/\\'; alert(1); \\''; </script></body>"


def test_the_page_server_needs_an_index_html(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        start_page_server(SERVER_URL, tmp_path, timeout=10)
