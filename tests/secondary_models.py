"""A blog as applications write it: articles and keywords through a plain
association table (``relationship(secondary=...)``), readers who bookmark
articles (readers are not versioned), and articles citing articles through
an association table without a primary key."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from vdm.sqlalchemy import Revisioned, Stateful


class BlogBase(DeclarativeBase):
    pass


article_keyword = Table(
    "article_keyword",
    BlogBase.metadata,
    Column("article_id", ForeignKey("article.id"), primary_key=True),
    Column("keyword_id", ForeignKey("keyword.id"), primary_key=True),
)

#: No primary key: vdm keys its versions by the foreign key columns.
citation = Table(
    "citation",
    BlogBase.metadata,
    Column("citing_id", Integer, ForeignKey("article.id"), nullable=False),
    Column("cited_id", Integer, ForeignKey("article.id"), nullable=False),
)

bookmark = Table(
    "bookmark",
    BlogBase.metadata,
    Column("reader_id", ForeignKey("reader.id"), primary_key=True),
    Column("article_id", ForeignKey("article.id"), primary_key=True),
)


class Keyword(Revisioned, BlogBase):
    __tablename__ = "keyword"
    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(50))
    articles: Mapped[list[Article]] = relationship(
        secondary=article_keyword, back_populates="keywords")

    def __repr__(self) -> str:
        return f"Keyword({self.word!r})"


class Article(Revisioned, Stateful, BlogBase):
    __tablename__ = "article"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    keywords: Mapped[list[Keyword]] = relationship(
        secondary=article_keyword, back_populates="articles", order_by=Keyword.word)
    cites: Mapped[list[Article]] = relationship(
        secondary=citation,
        primaryjoin=lambda: Article.id == citation.c.citing_id,
        secondaryjoin=lambda: Article.id == citation.c.cited_id,
        order_by=lambda: Article.id,
    )


class Reader(BlogBase):
    """Not versioned: who bookmarked an article is still history of the article."""

    __tablename__ = "reader"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    bookmarks: Mapped[list[Article]] = relationship(secondary=bookmark, order_by=Article.id)
