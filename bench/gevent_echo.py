#!/usr/bin/python3
"""A gevent echo server (greenlet per connection on one event loop), the
Python peer in scripts/bench. Same command line as tests/legacy/echo_server.c:

usage: gevent_echo.py PORT [MAX_CONNS]
  Listens on 127.0.0.1:PORT (0 picks a free port) and prints "listening PORT".
  With MAX_CONNS > 0 it stops accepting after that many connections and exits
  once they are all closed; without it it serves until killed.

Needs Debian's python3-gevent (run it with /usr/bin/python3).
"""
import resource
import socket
import sys

from gevent.server import StreamServer
from gevent.event import Event

served = 0
open_conns = 0
done = Event()


def main():
    if len(sys.argv) < 2:
        print("usage: %s PORT [MAX_CONNS]" % sys.argv[0], file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    max_conns = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    server = None

    def handle(sock, _addr):
        global served, open_conns
        served += 1
        open_conns += 1
        if max_conns and served >= max_conns:
            server.close()  # stop accepting; running handlers go on
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = sock.recv(4096)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass
        finally:
            sock.close()
            open_conns -= 1
            if max_conns and served >= max_conns and open_conns == 0:
                done.set()

    server = StreamServer(("127.0.0.1", port), handle, backlog=4096)
    server.start()
    print("listening %d" % server.socket.getsockname()[1], flush=True)
    if max_conns:
        done.wait()
        print("served %d connections" % served, flush=True)
    else:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
