"""One CPU-bound Python thread beside an HTTP server in the main thread
(issue 10). The worker spins a pure-Python loop (it never blocks, so it
gives up the GIL only when CPython's 5 ms switch interval forces it to);
the main thread serves http.server's ThreadingHTTPServer on 127.0.0.1.

Prints "port N" once it listens, then serves until a client asks for /quit;
then it stops the worker and prints how many loop rounds it made (so the
test can tell the worker really ran) and "done"."""

import http.server
import sys
import threading

stop = threading.Event()
rounds = 0


def spin():
    global rounds
    while not stop.is_set():
        x = 0
        for i in range(10000):  # pure Python: no call that releases the GIL
            x += i * i
        rounds += 1


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"rounds {rounds}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/quit":
            threading.Thread(target=self.server.shutdown).start()

    def log_message(self, *args):
        pass


def main():
    worker = threading.Thread(target=spin)
    worker.start()
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler) as server:
        print("port", server.server_address[1], flush=True)
        server.serve_forever(poll_interval=0.5)
    stop.set()
    worker.join()
    print("worker rounds >0:", rounds > 0)
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
