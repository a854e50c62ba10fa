"""multiprocessing across processes (issue 8, item 1): its Lock, Semaphore,
Queue and Event are process-shared POSIX semaphores (sem_open) and pipes, and
ProcessPoolExecutor runs on them. Deterministic verdicts, one per line."""

import concurrent.futures
import multiprocessing as mp
import os
import signal


def square(n):
    return n * n


def crash():
    os.kill(os.getpid(), signal.SIGSEGV)  # as a worker that faults


def add_under_lock(lock, counter, times):
    for _ in range(times):
        with lock:
            counter.value += 1


def echo(inbox, outbox):
    while True:
        item = inbox.get()
        if item is None:
            break
        outbox.put(item * 2)


def wait_then_set(started, go, done):
    started.set()
    go.wait(10)
    done.set()


def main():
    ctx = mp.get_context("fork")
    lock = ctx.Lock()
    counter = ctx.Value("i", 0, lock=False)
    workers = [ctx.Process(target=add_under_lock, args=(lock, counter, 200)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(20)
    print("Lock: 4 processes x 200 increments:", counter.value)

    inbox, outbox = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=echo, args=(inbox, outbox))
    p.start()
    for i in range(100):
        inbox.put(i)
    got = sorted(outbox.get(timeout=20) for _ in range(100))
    inbox.put(None)
    p.join(20)
    print("Queue: 100 items through a child:", got == [2 * i for i in range(100)],
          "exit code", p.exitcode)

    started, go, done = ctx.Event(), ctx.Event(), ctx.Event()
    p = ctx.Process(target=wait_then_set, args=(started, go, done))
    p.start()
    print("Event: the child started:", started.wait(10))
    go.set()
    print("Event: the child saw ours and answered:", done.wait(10))
    p.join(20)

    sem = ctx.BoundedSemaphore(2)
    print("BoundedSemaphore: two taken, a third refused:",
          sem.acquire(timeout=1), sem.acquire(timeout=1), sem.acquire(timeout=0.1))

    with concurrent.futures.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        print("ProcessPoolExecutor: sum of squares below 200:", sum(pool.map(square, range(200))))

    p = ctx.Process(target=crash)
    p.start()
    p.join(20)
    print("Process: a child sent SIGSEGV ends with exit code", p.exitcode)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        try:
            pool.submit(crash).result(timeout=20)
            print("ProcessPoolExecutor: a worker sent SIGSEGV: no error")
        except concurrent.futures.process.BrokenProcessPool:
            print("ProcessPoolExecutor: a worker sent SIGSEGV: BrokenProcessPool")
        except concurrent.futures.TimeoutError:
            print("ProcessPoolExecutor: a worker sent SIGSEGV: timed out")


if __name__ == "__main__":
    main()
