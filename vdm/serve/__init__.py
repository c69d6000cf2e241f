"""``vdm serve``: a read-only history browser over any vdm database.

Run it on the database ``vdm demo`` writes and open the address it prints::

    vdm serve --url sqlite:///vdm-demo.db        # http://127.0.0.1:8000/

or build the application and serve it with any ASGI server::

    from vdm.serve import create_app
    app = create_app("postgresql+psycopg://reader@db/catalogue")
    # uvicorn.run(app, host="127.0.0.1", port=8000)

The pages (each also JSON with ``?format=json``):

=================================  ==============================================
``/``                              the revision log, filtered and paged
``/revision/R``                    what revision R created, changed, deleted
``/object/TABLE/KEY``              one object: timeline, blame, links as of each
``/diff/TABLE/KEY?from=A&to=B``    one object as of A and B, side by side
``/model/R``, ``/model/R/TABLE``,  the model as of R: its tables, their rows,
``/model/R/TABLE/KEY``             one row with its foreign keys and links
``/verify``                        the history invariant check and its findings
=================================  ==============================================

The database is read through :mod:`vdm.sqlalchemy.reflection`, as the
``vdm`` command line reads it, so no application model is needed.  It needs
the ``serve`` extra (Starlette, Jinja2, uvicorn): ``pip install 'vdm[serve]'``.
"""

from __future__ import annotations

from vdm.serve.app import create_app

__all__ = ["create_app"]
