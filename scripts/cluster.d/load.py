#!/usr/bin/env python3
"""The mixed load of scripts/cluster (Python 3 standard library only, loopback only).

Writers POST a thread through the load balancer and read it back at once with the same key, by id
and (every fifth time) through a filtered list: a 404 or a list without it is a read-your-writes
violation. Readers GET threads by id, a customer's list page and the M10 bridge. Every request is
recorded (time, outcome); when the load ends, the drill's events (lines "SECONDS LABEL" in the
events file, written by scripts/cluster) cut the run into phases, and a table says per phase how
many requests were made, how many failed and how, and how long after the event the last failure
came. Bounded by --duration and --max-requests. Exit status 1 when a read-your-writes violation
was seen or the last --quiet-tail seconds had a failure (the cluster did not recover).
"""

import argparse
import base64
import http.client
import json
import random
import sys
import threading
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True, help="the load balancer on 127.0.0.1")
    p.add_argument("--writer-keys", required=True, help="comma-separated, one writer per key")
    p.add_argument("--reader-key", required=True)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--threads", type=int, default=3, help="thread ids 1..N exist")
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--max-requests", type=int, default=200000)
    p.add_argument("--events", required=True, help="file of 'SECONDS LABEL' lines")
    p.add_argument("--start-file", required=True, help="written with the start time")
    p.add_argument("--quiet-tail", type=float, default=2.0)
    a = p.parse_args()

    start = time.time()
    with open(a.start_file, "w") as f:
        f.write(f"{start:.3f}\n")
    deadline = start + a.duration
    lock = threading.Lock()
    records = []  # (seconds since start, role, outcome): outcome "ok" or an error kind
    counters = {"ryw_checks": 0, "ryw_violations": 0}
    budget = [a.max_requests]

    def record(role, outcome):
        with lock:
            records.append((time.time() - start, role, outcome))
            budget[0] -= 1
            return budget[0] > 0

    class Client:
        def __init__(self, key):
            self.auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
            self.key = key
            self.conn = None

        def send(self, method, path, body=None, bridge=False):
            """(status, body) or (None, error kind)."""
            headers = {"Authorization": self.key if bridge else self.auth}
            if body is not None:
                headers["Content-Type"] = "text/xml"
            for attempt in (0, 1):
                try:
                    if self.conn is None:
                        self.conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                    self.conn.request(method, path, body=body, headers=headers)
                    r = self.conn.getresponse()
                    data = r.read()
                    if r.getheader("Connection", "").lower() == "close":
                        self.conn.close()
                        self.conn = None
                    return r.status, data
                except (ConnectionError, http.client.HTTPException, OSError) as e:
                    if self.conn is not None:
                        self.conn.close()
                        self.conn = None
                    # A keep-alive connection the balancer closed meanwhile: once more, fresh.
                    if attempt == 0 and isinstance(
                        e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                    ) and method == "GET":
                        continue
                    kind = "timeout" if "timed out" in str(e) else "connection"
                    return None, kind
            return None, "connection"

    def outcome(status, data, expected):
        if status is None:
            return data
        return "ok" if status == expected else f"http {status}"

    def writer(n, key):
        c = Client(key)
        i = 0
        while time.time() < deadline:
            i += 1
            email = f"w{n}-{i}@example.com"
            body = (
                "<prestashop><customer_thread><id_shop>1</id_shop><id_lang>1</id_lang>"
                "<id_contact>2</id_contact><token>cluster</token>"
                f"<email>{email}</email><status>open</status></customer_thread></prestashop>"
            )
            status, data = c.send("POST", "/api/customer_threads", body)
            if not record("write", outcome(status, data, 201)) or status != 201:
                continue
            text = data.decode("utf-8", "replace")
            start_tag = "<id><![CDATA["
            tid = text[text.index(start_tag) + len(start_tag):].split("]", 1)[0]
            status, data = c.send("GET", f"/api/customer_threads/{tid}")
            with lock:
                counters["ryw_checks"] += 1
                if status == 404:
                    counters["ryw_violations"] += 1
            record("read-back", outcome(status, data, 200))
            if i % 5 == 0:
                status, data = c.send(
                    "GET",
                    f"/api/customer_threads?filter[id]=[{tid}]&display=[id,email]&output_format=JSON",
                )
                if status == 200:
                    with lock:
                        counters["ryw_checks"] += 1
                        if email not in data.decode("utf-8", "replace"):
                            counters["ryw_violations"] += 1
                record("read-back", outcome(status, data, 200))

    def reader(n):
        c = Client(a.reader_key)
        rnd = random.Random(n)
        while time.time() < deadline:
            choice = rnd.randrange(3)
            tid = rnd.randint(1, a.threads)
            if choice == 0:
                status, data = c.send("GET", f"/api/customer_threads/{tid}")
            elif choice == 1:
                status, data = c.send(
                    "GET",
                    "/api/customer_threads?filter[id_customer]=[2]&sort=[date_upd_DESC]&limit=20",
                )
            else:
                status, data = c.send("GET", f"/api/inbox/threads/{tid}", bridge=True)
            if not record("read", outcome(status, data, 200)):
                break

    keys = [k for k in a.writer_keys.split(",") if k]
    workers = [threading.Thread(target=writer, args=(n, k)) for n, k in enumerate(keys)]
    workers += [threading.Thread(target=reader, args=(n,)) for n in range(a.readers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    end = time.time() - start

    events = [(0.0, "steady load")]
    try:
        with open(a.events) as f:
            for line in f:
                t, _, label = line.strip().partition(" ")
                if label:
                    events.append((float(t) - start, label))
    except FileNotFoundError:
        pass
    events.sort()

    print()
    print(f"{'phase':<28} {'at':>6} {'requests':>9} {'ok':>8}  {'errors by kind':<32} {'last error after':>16}")
    quiet_tail_failed = False
    for i, (t0, label) in enumerate(events):
        t1 = events[i + 1][0] if i + 1 < len(events) else end
        rows = [r for r in records if t0 <= r[0] < t1]
        ok = sum(1 for r in rows if r[2] == "ok")
        kinds = {}
        for r in rows:
            if r[2] != "ok":
                kinds[r[2]] = kinds.get(r[2], 0) + 1
        failures = [r[0] for r in rows if r[2] != "ok"]
        last = f"{max(failures) - t0:.1f} s" if failures else "-"
        kinds_text = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "none"
        print(f"{label:<28} {t0:>5.1f}s {len(rows):>9} {ok:>8}  {kinds_text:<32} {last:>16}")
    tail = [r for r in records if r[0] >= end - a.quiet_tail]
    if not tail or any(r[2] != "ok" for r in tail):
        quiet_tail_failed = True
    total = len(records)
    ok = sum(1 for r in records if r[2] == "ok")
    print(f"{'total':<28} {end:>5.1f}s {total:>9} {ok:>8}")
    print(
        f"read-your-writes: {counters['ryw_checks']} read-backs through the balancer, "
        f"{counters['ryw_violations']} violations"
    )
    summary = {
        "requests": total,
        "ok": ok,
        "ryw_checks": counters["ryw_checks"],
        "ryw_violations": counters["ryw_violations"],
        "recovered": not quiet_tail_failed,
    }
    print("summary " + json.dumps(summary))
    if counters["ryw_violations"]:
        print("FAIL: a writer read older data than its own write", file=sys.stderr)
        return 1
    if quiet_tail_failed:
        print(
            f"FAIL: requests still failed (or none ran) in the last {a.quiet_tail:.0f} s",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
