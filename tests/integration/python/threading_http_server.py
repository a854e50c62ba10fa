"""http.server's ThreadingHTTPServer (a thread per connection) serving a
directory, as a small site would run it: the only changes from the standard
library's classes are a listen backlog of 4096 and HTTP/1.1 (keep-alive).

usage: threading_http_server.py DIRECTORY
Prints the port it listens on (127.0.0.1), then serves until killed."""

import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    request_queue_size = 4096


class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"


def main():
    httpd = Server(("127.0.0.1", 0), partial(Handler, directory=sys.argv[1]))
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
