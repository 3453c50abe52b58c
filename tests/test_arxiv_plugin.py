"""ArxivSearch (online plugin): results from a local arXiv API stand-in, a clear message offline."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import arxiv
import pytest
from lagent.actions import ActionExecutor
from lagent.schema import ActionStatusCode

from demo_core.agent.online_plugins import arxiv_search

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/2403.17297v1</id>
    <updated>2024-03-26T00:00:00Z</updated>
    <published>2024-03-26T00:00:00Z</published>
    <title>InternLM2 Technical Report</title>
    <summary>The evolution of Large Language Models...</summary>
    <author><name>Zheng Cai</name></author>
    <link href="http://arxiv.org/abs/2403.17297v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category term="cs.CL"/>
    <category term="cs.CL"/>
  </entry>
</feed>"""


@pytest.fixture
def arxiv_api(monkeypatch):
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            seen.append(self.path)
            body = ATOM.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    monkeypatch.setattr(arxiv.Client, "query_url_format", f"http://127.0.0.1:{port}/api/query?{{}}")
    yield seen
    srv.shutdown()
    srv.server_close()


def call(query: str):
    ex = ActionExecutor(actions=[arxiv_search()])
    assert ex.action_names() == ["ArxivSearch"]  # lagent's own tool name
    return ex("ArxivSearch.get_arxiv_article_information", {"query": query})


def test_search_returns_articles(arxiv_api):
    ret = call("InternLM2")
    assert ret.state == ActionStatusCode.SUCCESS, ret.errmsg
    text = ret.format_result()
    assert "Title: InternLM2 Technical Report" in text and "Authors: Zheng Cai" in text
    assert "search_query=InternLM2" in arxiv_api[0]


def test_offline_is_one_clear_sentence(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(arxiv.Client, "query_url_format", f"http://127.0.0.1:{port}/q?{{}}")
    ret = call("InternLM")
    assert ret.state == ActionStatusCode.HTTP_ERROR
    assert ret.errmsg.startswith(
        "ArxivSearch needs the internet and arxiv.org could not be reached"
    )
    assert "Traceback" not in ret.errmsg
