"""Fetches 500 URLs with concurrent.futures.ThreadPoolExecutor(50) and
urllib.request, as a scraper or a test client would, and checks every body.

usage: pool_fetch.py BASE_URL      (e.g. http://127.0.0.1:8000)
Output is deterministic: counts and verdicts."""

import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import items

URLS = 500
WORKERS = 50


def fetch(base, n):
    with urllib.request.urlopen(f"{base}/item/{n}", timeout=30) as response:
        return response.status, response.read()


def main():
    base = sys.argv[1]
    correct = wrong = errors = 0
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {pool.submit(fetch, base, n): n for n in range(URLS)}
        for future, n in futures.items():
            try:
                status, data = future.result()
            except Exception as e:  # noqa: BLE001 - counted and shown
                errors += 1
                print(f"error fetching item {n}: {e!r}", file=sys.stderr)
                continue
            if status == 200 and data == items.body(n):
                correct += 1
            else:
                wrong += 1
    print(f"{URLS} URLs fetched by ThreadPoolExecutor({WORKERS}): {correct} correct, "
          f"{wrong} wrong, {errors} errors")


if __name__ == "__main__":
    main()
