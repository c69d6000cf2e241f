from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Base, Book
from vdm.sqlalchemy import Revision


def test_story_round_trip(engine):
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.revision = Revision(author="me", message="first")
        session.add(Book(name="warandpeace", title="War and Peacee"))
        session.commit()
        book = session.scalars(select(Book)).one()
        assert book.get_as_of(1).title == "War and Peacee"
