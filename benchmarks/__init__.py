"""vdm's benchmarks: the same work on plain SQLAlchemy, vdm and Continuum.

Run ``python3 -m benchmarks`` from the repository root (``--help`` lists
the options; ``README.txt`` here explains the output).  Each system runs in
its own worker process with its own model module, declarative base and
database, so no system's ORM event hooks slow another one down; the parent
process asks the workers for one timed sample at a time, in turn, and
prints medians and ratios to plain SQLAlchemy.
"""
