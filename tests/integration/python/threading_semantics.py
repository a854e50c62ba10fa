"""Python's threading semantics, as programs rely on them: Lock and RLock
with timeouts, Condition, Event, Semaphore and BoundedSemaphore, Barrier,
Thread.join with a timeout, threading.local, Timer, queue.Queue with
timeouts, and daemon threads at exit. CPython builds these on pthread mutexes,
condition variables and semaphores (sem_clockwait), and its GIL on a mutex and
a condition variable with timed waits.

Output is deterministic: only verdicts. "ready" is printed while 50 threads
wait at a barrier. The last lines come from a non-daemon thread after main
has finished, while daemon threads are still blocked (the interpreter must
wait for the one and not for the others)."""

import queue
import sys
import threading
import time

T = 0.1  # the timeout the timed calls use


def took(f, *args, **kwargs):
    start = time.monotonic()
    result = f(*args, **kwargs)
    return result, time.monotonic() - start


def later(delay, f, *args):
    """Calls f(*args) on a new thread after delay seconds."""
    def run():
        time.sleep(delay)
        f(*args)
    t = threading.Thread(target=run)
    t.start()
    return t


def say(*args):
    print(*args)


def locks():
    lock = threading.Lock()
    lock.acquire()
    r, dt = took(lock.acquire, timeout=T)
    say(f"Lock.acquire(timeout={T}) while held: {r}, waited the timeout: {dt >= T}")
    t = later(0.05, lock.release)
    r, dt = took(lock.acquire, timeout=5)
    t.join()
    say(f"Lock.acquire(timeout=5) released by another thread after 50 ms: {r}, early: {dt < 2}")
    lock.release()
    first, second = lock.acquire(blocking=False), lock.acquire(blocking=False)
    lock.release()
    say(f"Lock.acquire(blocking=False): {first}, again: {second}")

    rlock = threading.RLock()
    rlock.acquire()
    rlock.acquire()
    result = {}
    t = threading.Thread(target=lambda: result.update(other=rlock.acquire(timeout=T)))
    t.start()
    t.join()
    errors = []
    t = threading.Thread(target=lambda: errors.append(_release_error(rlock)))
    t.start()
    t.join()
    rlock.release()
    rlock.release()
    t = threading.Thread(target=lambda: result.update(after=_acquire_release(rlock)))
    t.start()
    t.join()
    say(f"RLock held twice: another thread's acquire(timeout={T}): {result['other']}, its "
        f"release: {errors[0]}; after two releases: {result['after']}")


def _release_error(lock):
    try:
        lock.release()
    except RuntimeError:
        return "RuntimeError"
    return "no error"


def _acquire_release(lock):
    if lock.acquire(timeout=5):
        lock.release()
        return True
    return False


def conditions():
    cond = threading.Condition()
    with cond:
        r, dt = took(cond.wait, timeout=T)
    say(f"Condition.wait(timeout={T}) unnotified: {r}, waited the timeout: {dt >= T}")

    state = {"ready": False}

    def make_ready():
        with cond:
            state["ready"] = True
            cond.notify()

    t = later(0.05, make_ready)
    with cond:
        r, dt = took(cond.wait_for, lambda: state["ready"], timeout=5)
    t.join()
    say(f"Condition.wait_for(pred, timeout=5) notified after 50 ms: {r}, early: {dt < 2}")

    woken = []
    waiting = threading.Semaphore(0)

    def waiter(i):
        with cond:
            waiting.release()
            cond.wait()
            woken.append(i)

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for _ in threads:
        waiting.acquire()
    with cond:
        cond.notify(2)
    # The two must take the lock and the GIL: wait for them (a loaded machine
    # may take long), then a little more, in case a third (wrongly) follows.
    deadline = time.monotonic() + 10
    while len(woken) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    after_two = len(woken)
    with cond:
        cond.notify_all()
    for t in threads:
        t.join()
    say(f"Condition.notify(2) with 5 waiters woke {after_two}; notify_all the rest: {len(woken)}")


def events_and_semaphores():
    ev = threading.Event()
    r, dt = took(ev.wait, T)
    say(f"Event.wait({T}) unset: {r}, waited the timeout: {dt >= T}")
    t = later(0.05, ev.set)
    r, dt = took(ev.wait, 5)
    t.join()
    say(f"Event.wait(5) set after 50 ms: {r}, early: {dt < 2}, is_set: {ev.is_set()}")

    sem = threading.Semaphore(2)
    a, b = sem.acquire(), sem.acquire()
    r, dt = took(sem.acquire, timeout=T)
    say(f"Semaphore(2): two acquires {a} {b}, a third with timeout={T}: {r}, waited: {dt >= T}")
    t = later(0.05, sem.release)
    r, dt = took(sem.acquire, timeout=5)
    t.join()
    say(f"  released by another thread after 50 ms: {r}, early: {dt < 2}")
    bounded = threading.BoundedSemaphore(1)
    bounded.acquire()
    bounded.release()
    try:
        bounded.release()
        over = "no error"
    except ValueError:
        over = "ValueError"
    say(f"BoundedSemaphore released too often: {over}")


def barriers():
    n = 50
    actions = []
    barrier = threading.Barrier(n, action=lambda: actions.append(1))
    indices = []
    lock = threading.Lock()
    gate = threading.Event()

    def party():
        gate.wait()
        i = barrier.wait()
        with lock:
            indices.append(i)

    threads = [threading.Thread(target=party) for _ in range(n)]
    for t in threads:
        t.start()
    print("ready", flush=True)  # all 50 threads alive, waiting on the gate
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    say(f"Barrier({n}): indices are 0..{n - 1}: {sorted(indices) == list(range(n))}, "
        f"action ran {len(actions)} time(s)")

    short = threading.Barrier(2)
    try:
        short.wait(timeout=T)
        r = "passed"
    except threading.BrokenBarrierError:
        r = "BrokenBarrierError"
    say(f"Barrier(2).wait(timeout={T}) alone: {r}, broken: {short.broken}")

    aborted = threading.Barrier(3)
    outcome = []

    def wait_aborted():
        try:
            aborted.wait()
            outcome.append("passed")
        except threading.BrokenBarrierError:
            outcome.append("BrokenBarrierError")

    t = threading.Thread(target=wait_aborted)
    t.start()
    time.sleep(0.05)
    aborted.abort()
    t.join()
    say(f"Barrier.abort() with a thread waiting: {outcome}")


def joins_locals_timers():
    t = threading.Thread(target=time.sleep, args=(0.4,))
    t.start()
    _, dt = took(t.join, T)
    alive = t.is_alive()
    t.join()
    say(f"Thread.join({T}) on a sleeping thread: still alive {alive}, waited {dt >= T}; "
        f"join(): alive {t.is_alive()}")

    local = threading.local()
    kept = []

    def use_local(i):
        local.value = i
        time.sleep(0.01 * (i % 5))
        kept.append(local.value == i)

    threads = [threading.Thread(target=use_local, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    say(f"threading.local: 20 threads kept their own value: {all(kept) and len(kept) == 20}, "
        f"main has none: {not hasattr(local, 'value')}")

    fired = []
    timer = threading.Timer(T, fired.append, args=("fired",))
    cancelled = threading.Timer(T, fired.append, args=("cancelled one fired",))
    timer.start()
    cancelled.start()
    cancelled.cancel()
    timer.join()
    cancelled.join()
    say(f"Timer: {fired}")


def queues():
    q = queue.Queue(maxsize=2)
    try:
        q.get(timeout=T)
        r = "got something"
    except queue.Empty:
        r = "Empty"
    say(f"Queue.get(timeout={T}) on an empty queue: {r}")
    q.put(1)
    q.put(2)
    try:
        q.put(3, timeout=T)
        r = "put"
    except queue.Full:
        r = "Full"
    say(f"Queue(maxsize=2).put(timeout={T}) when full: {r}")
    q.get()
    q.get()

    work = queue.Queue(maxsize=8)
    results = queue.Queue()

    def consumer():
        while True:
            item = work.get()
            if item is None:
                work.task_done()
                return
            results.put(item * 2)
            work.task_done()

    def producer(p):
        for i in range(100):
            work.put(p * 100 + i)
            if i % 25 == 0:
                time.sleep(0.002)

    consumers = [threading.Thread(target=consumer) for _ in range(5)]
    producers = [threading.Thread(target=producer, args=(p,)) for p in range(10)]
    for t in consumers + producers:
        t.start()
    for t in producers:
        t.join()
    work.join()  # every item processed
    for _ in consumers:
        work.put(None)
    for t in consumers:
        t.join()
    got = []
    while True:
        try:
            got.append(results.get_nowait())
        except queue.Empty:
            break
    say(f"10 producers, 5 consumers, 1000 items through a Queue(8): "
        f"{sorted(got) == [2 * i for i in range(1000)]}, task_done/join returned")


def exit_with_daemons():
    blocked = threading.Event()
    threading.Thread(target=blocked.wait, daemon=True).start()  # forever
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    lock = threading.Lock()
    lock.acquire()
    threading.Thread(target=lock.acquire, daemon=True).start()  # forever

    def last_words():
        time.sleep(0.2)
        print("a non-daemon thread finished after main returned", flush=True)

    threading.Thread(target=last_words).start()
    say(f"threads alive as main returns: {threading.active_count()}")
    sys.stdout.flush()


def main():
    locks()
    conditions()
    events_and_semaphores()
    barriers()
    joins_locals_timers()
    queues()
    say(f"threads alive after the tests: {threading.active_count()}")
    exit_with_daemons()
    print("main returns")


if __name__ == "__main__":
    main()
