"""A wiki's history and a real ``vdm serve`` server on a free loopback port.

The wiki is what an editor's application would keep under vdm: pages with
text, tags, and versioned links between them (``wiki_page_tag``, stateful:
removing a tag marks its link deleted).  :func:`write_wiki` tells its story
in six revisions; :class:`Served` runs the browser's application under
uvicorn in a thread, as ``vdm serve`` does, and reads its pages over HTTP.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import uvicorn
from sqlalchemy import Engine, ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from vdm.serve import create_app
from vdm.sqlalchemy import Repository, Revisioned, Stateful


class WikiBase(DeclarativeBase):
    pass


class WikiPage(Revisioned, Stateful, WikiBase):
    __tablename__ = "wiki_page"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)


class WikiTag(Revisioned, Stateful, WikiBase):
    __tablename__ = "wiki_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class WikiPageTag(Revisioned, Stateful, WikiBase):
    __tablename__ = "wiki_page_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("wiki_page.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("wiki_tag.id"))


def write_wiki(engine: Engine) -> None:
    """The wiki's story in six revisions.

    r1 ann: the welcome page (body with a typo), tags intro and draft, both
    linked; r2 bob: the typo fixed; r3 ann: retitled, the draft tag removed;
    r4 cat: the page deleted; r5 ann: the page undeleted; r6 bob: a tag,
    news, linked to the page (its links change, the page does not).
    """
    WikiBase.metadata.create_all(engine)
    with Session(engine) as session:
        repo = Repository(WikiBase.metadata, session)
        repo.new_revision(author="ann", message="Create the welcome page")
        session.add_all([
            WikiPage(id=1, slug="welcome", title="Welcome",
                     body="Hello wrold, this is the wiki."),
            WikiTag(id=1, name="intro"), WikiTag(id=2, name="draft"),
        ])
        session.flush()
        session.add_all([WikiPageTag(id=1, page_id=1, tag_id=1),
                         WikiPageTag(id=2, page_id=1, tag_id=2)])
        repo.commit()
        repo.new_revision(author="bob", message="Fix the typo")
        page = session.get(WikiPage, 1)
        assert page is not None
        page.body = "Hello world, this is our wiki."
        repo.commit()
        repo.new_revision(author="ann", message="Publish the welcome page")
        page.title = "Welcome!"
        link = session.get(WikiPageTag, 2)
        assert link is not None
        link.delete()
        repo.commit()
        repo.new_revision(author="cat", message="Remove the page")
        page.delete()
        repo.commit()
        repo.new_revision(author="ann", message="Bring the page back")
        page.undelete()
        repo.commit()
        repo.new_revision(author="bob", message="Tag the page as news")
        session.add(WikiTag(id=3, name="news"))
        session.flush()
        session.add(WikiPageTag(id=3, page_id=1, tag_id=3))
        repo.commit()


@dataclass
class Response:
    """One answer of the server."""

    status: int
    content_type: str
    body: str

    def json(self) -> Any:
        assert self.content_type.startswith("application/json"), self.content_type
        return json.loads(self.body)


class Served:
    """``create_app(url)`` served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, url: str) -> None:
        self.app = create_app(url)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="critical", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the vdm serve test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()
        self.app.state.source.close()

    def get(self, path: str, method: str = "GET") -> Response:
        """The answer to ``METHOD path`` (errors included, redirects followed)."""
        request = urllib.request.Request(self.base + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return Response(answer.status, answer.headers["Content-Type"],
                                answer.read().decode())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.headers["Content-Type"],
                                error.read().decode())

    def json(self, path: str) -> Any:
        """The JSON of the page at ``path`` (which must answer 200)."""
        sep = "&" if "?" in path else "?"
        answer = self.get(f"{path}{sep}format=json")
        assert answer.status == 200, answer.body
        return answer.json()
