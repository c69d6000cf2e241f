"""``vdm serve``: run the history browser (:mod:`vdm.serve`) under uvicorn.

Starlette, Jinja2 and uvicorn come with the ``serve`` extra; they are
imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from vdm.cli.opening import CommandError


def run_serve(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the history browser over ``args.url`` until interrupted."""
    try:
        import uvicorn

        from vdm.serve.app import create_app
    except ImportError as exc:
        raise CommandError(f"vdm serve needs the serve extra ({exc}); install it "
                           f"with: pip install 'vdm[serve]'") from None
    from vdm.serve.source import PageError

    app = create_app(args.url)
    source = app.state.source
    try:
        with source.model():
            pass
    except PageError as exc:
        # Serve anyway: the pages say what is wrong until it is fixed.
        print(f"vdm serve: warning: {exc.message}", file=sys.stderr)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    print(f"vdm serve: browsing {source.shown} (read-only); "
          f"press Ctrl-C to stop", file=out, flush=True)
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        # With --port 0 the address is known only once the socket is bound.
        for bound in server.servers:
            for sock in bound.sockets:
                host, port = sock.getsockname()[:2]
                shown = f"[{host}]" if ":" in host else host
                print(f"vdm serve: open http://{shown}:{port}/", file=out, flush=True)

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn stops cleanly on Ctrl-C, then raises the signal again.
        pass
    finally:
        source.close()
    print("vdm serve: stopped", file=out)
    return 0
