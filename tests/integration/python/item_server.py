"""A plain native HTTP server for pool_fetch.py: GET /item/N returns
items.body(N). Run natively by the test (never under the preload).

usage: item_server.py
Prints the port it listens on (127.0.0.1), then serves until killed."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import items


class Server(ThreadingHTTPServer):
    request_queue_size = 1024


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = self.path.split("/")
        if len(parts) != 3 or parts[1] != "item" or not parts[2].isdigit():
            self.send_error(404)
            return
        data = items.body(int(parts[2]))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


def main():
    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
