"""``uvicorn --workers N`` for the FastAPI references, minus uvicorn's Nagle bug.

Two flavours, named rather than left to uvicorn's "auto" (which takes whatever
happens to be installed): ``plain``, what ``pip install fastapi uvicorn`` gives
(h11, the pure-Python HTTP parser, on asyncio's loop), and ``standard``, what
``pip install "fastapi[standard]"`` or ``uvicorn[standard]`` gives and FastAPI's
documentation installs (httptools, the C parser of Node's llhttp, on uvloop).

uvicorn's multi-worker path binds its listening socket with ``proto`` 0, so asyncio
never sets TCP_NODELAY on the accepted connections and every keep-alive request
after the first waits ~40 ms for the client's delayed ACK (uvicorn issue #3149,
open at the time of writing). That would make the reference look ten times slower
than it is. This does what ``uvicorn.run(..., workers=N)`` does, with the socket
created as TCP; everything else is uvicorn's defaults.

    python -m bench.references.fastapi_serve PORT WORKERS [plain|standard] [lean|orm]

``lean`` serves bench/references/fastapi_app.py, ``orm`` bench/references/fastapi_orm.py.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.supervisors import Multiprocess

APPS = {"lean": "bench.references.fastapi_app:app", "orm": "bench.references.fastapi_orm:app"}
HOST = "127.0.0.1"
# uvicorn's own names for its HTTP implementation and event loop, per flavour.
FLAVOURS = {"plain": ("h11", "asyncio"), "standard": ("httptools", "uvloop")}


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    http, loop = FLAVOURS[sys.argv[3] if len(sys.argv) > 3 else "plain"]
    app = APPS[sys.argv[4] if len(sys.argv) > 4 else "lean"]
    config = uvicorn.Config(app, host=HOST, port=port, workers=workers, http=http, loop=loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


if __name__ == "__main__":
    main()
