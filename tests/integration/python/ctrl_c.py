"""Ctrl-C in a threaded Python program (issue 4): a timer thread sends the
process SIGINT (os.kill) 200 ms after the main thread starts a blocking
call; KeyboardInterrupt must come out of that call promptly, as natively.
A ticker thread counts 10 ms sleeps meanwhile.

usage: ctrl_c.py
Output is deterministic: one verdict line per blocking call."""

import os
import select
import signal
import socket
import threading
import time

ticks = 0
stop = threading.Event()


def ticker():
    global ticks
    for _ in range(3000):
        if stop.is_set():
            break
        time.sleep(0.01)
        ticks += 1


def check(name, call):
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    before = ticks
    t0 = time.monotonic()
    timer.start()
    try:
        call()
        outcome = "RETURNED WITHOUT KeyboardInterrupt"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
    took = time.monotonic() - t0
    timer.join()
    print(f"{name}: {outcome}, promptly: {'yes' if 0.15 <= took < 2.5 else 'NO'}, "
          f"ticker advanced meanwhile: {'yes' if ticks - before >= 5 else 'NO'}", flush=True)


def main():
    threading.Thread(target=ticker, daemon=True).start()
    a, b = socket.socketpair()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    r, w = os.pipe()

    def join_a_sleeper():
        sleeper = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        sleeper.start()
        sleeper.join()

    check("time.sleep(5)", lambda: time.sleep(5))
    check("socket.recv", lambda: a.recv(1))
    check("socket.accept", listener.accept)
    check("select.select(5)", lambda: select.select([a], [], [], 5))
    check("os.read on a pipe", lambda: os.read(r, 1))
    check("signal.pause()", signal.pause)
    check("threading.Event().wait(5)", lambda: threading.Event().wait(5))
    check("Thread.join() of a sleeping thread", join_a_sleeper)
    stop.set()
    print("done", flush=True)


if __name__ == "__main__":
    main()
