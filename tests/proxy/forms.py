#!/usr/bin/env python3
"""The request forms of scripts/proxy-test, sent through a proxy running the shipped
configuration (deploy/nginx, deploy/apache).

Every form says which side must answer it (docs/deploy.md, "Which requests go where"):
- `threadgate`: the answer through the proxy must be the answer threadgate gives to the same
  request sent to it directly: same status, same body byte for byte, same headers (but for the
  ones a proxy or the clock changes). The proxied server and the direct one run on two
  databases prepared identically and get the same requests in the same order, so writes
  compare too (times written "now" may differ by a second and are masked).
- `php`: the PHP stand-in (tests/proxy/php_standin.py) answered, and saw the script and the
  `url` parameter PrestaShop's rewrite produces.
Then the client address: through the proxy, failed authentications count against the real
client (127.0.0.x), not against the proxy, and the access log names the real client
(the log file is THREADGATE_PROXY_LOG). Every request carries an `X-Request-Id` of its own,
the same one to the proxy and directly, so the echoed header compares too.

    forms.py NAME PROXY_PORT DIRECT_PORT KEY CLIENT_A CLIENT_B

Prints one line per form and `N passed, N failed`; exits 1 on any failure.
"""

import http.client
import itertools
import json
import os
import re
import sys
import time

NAME, PROXY, DIRECT, KEY, CLIENT_A, CLIENT_B = sys.argv[1:7]
PROXY, DIRECT = int(PROXY), int(DIRECT)
HOST = "127.0.0.1:%d" % PROXY
WRONG = "WRONGKEYWRONGKEYWRONGKEYWRONGKE1"
BASIC = "Basic " + __import__("base64").b64encode((KEY + ":").encode()).decode()
BAD_BASIC = "Basic " + __import__("base64").b64encode((WRONG + ":").encode()).decode()

# Headers a proxy or the clock may change; everything else threadgate sends must come through.
VOLATILE = {"date", "server", "connection", "keep-alive", "transfer-encoding", "access-time",
            "execution-time", "content-length", "content-sha1"}


def send(port, method, path, headers=None, body=b"", source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    h = {"Host": HOST}
    h.update(headers or {})
    conn.request(method, path, body=body or None, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, [(k.lower(), v) for k, v in r.getheaders()], data


NOW = re.compile(rb"20(2[5-9]|[3-9]\d)-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
REQUEST_UUID = re.compile(rb'"requestUUID":"[^"]*"')


def masked(body):
    return REQUEST_UUID.sub(b'"requestUUID":"*"', NOW.sub(b"<now>", body))


def header_map(headers):
    out = {}
    for k, v in headers:
        out.setdefault(k, []).append(v)
    return out


THREAD = (b"<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop>"
          b"<id_customer>2</id_customer><id_contact>2</id_contact><email>proxy@example.com</email>"
          b"<token>tok3n</token><status>open</status></customer_thread></prestashop>")
MESSAGE = (b"xml=<prestashop><customer_message><id_customer_thread>1</id_customer_thread>"
           b"<message>Through the proxy</message></customer_message></prestashop>")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH = {"Authorization": BASIC}
LIST_PATH = "/communications/departments/0/customers/2/threads"

state = {"thread": None, "message": None}


def put_body():
    return ("<prestashop><customer_thread><id>%s</id><id_lang>1</id_lang><id_shop>1</id_shop>"
            "<id_customer>2</id_customer><id_contact>2</id_contact><email>proxy@example.com</email>"
            "<token>tok3n</token><status>closed</status></customer_thread></prestashop>"
            % state["thread"]).encode()


def patch_body():
    return ("<prestashop><customer_thread><id>%s</id><id_order>7</id_order></customer_thread>"
            "</prestashop>" % state["thread"]).encode()


# (form, method, path or callable, headers, body or callable, side, expected status, php url)
FORMS = [
    ("list, Basic", "GET", "/api/customer_threads", AUTH, b"", "threadgate", 200),
    ("list, trailing slash", "GET", "/api/customer_threads/", AUTH, b"", "threadgate", 200),
    ("single", "GET", "/api/customer_threads/1", AUTH, b"", "threadgate", 200),
    ("single, trailing slash", "GET", "/api/customer_threads/1/", AUTH, b"", "threadgate", 200),
    ("//api/ (PHP library)", "GET", "//api/customer_threads", AUTH, b"", "threadgate", 200),
    ("&id_shop=1 in the path", "GET", "/api/customer_threads&id_shop=1", AUTH, b"", "threadgate", 200),
    ("ws_key in the query", "GET", "/api/customer_messages?ws_key=%s&display=full" % KEY, {}, b"", "threadgate", 200),
    ("percent-encoded name", "GET", "/api/customer%5Fthreads/1", AUTH, b"", "threadgate", 200),
    ("HEAD single", "HEAD", "/api/customer_threads/1", AUTH, b"", "threadgate", 200),
    ("JSON, display, filter", "GET", "/api/customer_messages?output_format=JSON&display=[id,message]&filter[id_customer_thread]=[1]", AUTH, b"", "threadgate", 200),
    ("unknown id", "GET", "/api/customer_threads/999", AUTH, b"", "threadgate", 404),
    ("no key", "GET", "/api/customer_threads", {}, b"", "threadgate", 401),
    ("wrong ws_key", "GET", "/api/customer_threads?ws_key=" + WRONG, {}, b"", "threadgate", 401),
    ("X-Authorization header", "GET", "/api/customer_messages/1", {"X-Authorization": BASIC}, b"", "threadgate", 200),
    ("url= in the query", "GET", "/api/customer_threads?url=products", AUTH, b"", "threadgate", 200),
    ("POST &id_shop=1 (PHP library add)", "POST", "/api/customer_threads&id_shop=1", dict(AUTH, **FORM), THREAD, "threadgate", 201),
    ("PUT id", "PUT", lambda: "/api/customer_threads/%s" % state["thread"], dict(AUTH, **FORM), put_body, "threadgate", 200),
    ("PATCH collection", "PATCH", "/api/customer_threads", dict(AUTH, **FORM), patch_body, "threadgate", 200),
    ("POST xml= body", "POST", "/api/customer_messages", dict(AUTH, **FORM), MESSAGE, "threadgate", 201),
    ("DELETE message", "DELETE", lambda: "/api/customer_messages/%s" % state["message"], AUTH, b"", "threadgate", 200),
    ("DELETE //api/...&id_shop=1", "DELETE", lambda: "//api/customer_threads/%s&id_shop=1" % state["thread"], AUTH, b"", "threadgate", 200),
    ("M10 bridge, Bearer", "GET", "/api/inbox/threads/1", {"Authorization": "Bearer " + KEY}, b"", "threadgate", 200),
    ("thread list bridge", "POST", LIST_PATH, dict(AUTH, **{"Content-Type": "application/json"}), b'{"page_size": 5}', "threadgate", 200),
    ("healthz", "GET", "/healthz", {}, b"", "threadgate", None),
    ("readyz", "GET", "/readyz", {}, b"", "threadgate", None),
    # PrestaShop's.
    ("root listing /api/", "GET", "/api/", AUTH, b"", "php", ""),
    ("root listing /api", "GET", "/api", AUTH, b"", "php", ""),
    ("other resource, Basic", "GET", "/api/products", AUTH, b"", "php", "products"),
    ("other resource, ws_key", "GET", "/api/customers/1?ws_key=" + KEY, {}, b"", "php", "customers/1"),
    ("other resource, //api/", "GET", "//api/orders", AUTH, b"", "php", "orders"),
    ("other resource, POST &id_shop=1", "POST", "/api/addresses&id_shop=1", dict(AUTH, **FORM), b"<prestashop/>", "php", "addresses"),
    ("other resource, PUT", "PUT", "/api/products/1", dict(AUTH, **FORM), b"<prestashop/>", "php", "products/1"),
    ("other resource, DELETE", "DELETE", "/api/customer_threadsX/1", AUTH, b"", "php", "customer_threadsX/1"),
    ("other resource, HEAD", "HEAD", "/api/products", AUTH, b"", "php", None),
    ("name in another case", "GET", "/api/Customer_Threads", AUTH, b"", "php", "Customer_Threads"),
    ("M10 path without an id", "GET", "/api/inbox/threads", AUTH, b"", "php", "inbox/threads"),
    ("M10 path, extra segment", "GET", "/api/inbox/threads/1/x", AUTH, b"", "php", "inbox/threads/1/x"),
    ("dispatcher.php?url= directly", "GET", "/webservice/dispatcher.php?url=customer_threads", AUTH, b"", "php", "customer_threads"),
    ("front office", "GET", "/index.php?controller=contact", {}, b"", "php", None),
    ("bridge-like path, not a bridge", "GET", "/communications/departments/0/customers/2", {}, b"", "php", None),
]


REQUEST_IDS = itertools.count(1)


def run_form(form):
    name, method, path, headers, body, side, expect = form
    path = path() if callable(path) else path
    body = body() if callable(body) else body
    headers = dict(headers, **{"X-Request-Id": "proxy-%s-%d" % (NAME, next(REQUEST_IDS))})
    status, hdrs, data = send(PROXY, method, path, headers, body)
    hm = header_map(hdrs)
    if "x-standin" in hm:
        answered = "php"
    else:
        answered = "?"
    detail = ""
    ok = True
    if side == "threadgate":
        d_status, d_hdrs, d_data = send(DIRECT, method, path, headers, body)
        if answered != "php" and (status, masked(data)) == (d_status, masked(d_data)):
            answered = "threadgate"
        dm = header_map(d_hdrs)
        missing = [k for k in dm if k not in VOLATILE and dm[k] != hm.get(k)]
        if data == d_data and dm.get("content-sha1") != hm.get("content-sha1"):
            missing.append("content-sha1")
        if answered != "threadgate":
            ok = False
            detail = "proxy %d %r / direct %d %r" % (status, data[:120], d_status, d_data[:120])
        elif missing:
            ok = False
            detail = "headers differ: " + ", ".join("%s %r != %r" % (k, hm.get(k), dm.get(k)) for k in missing)
        elif expect is not None and status != expect:
            ok = False
            detail = "status %d, want %d" % (status, expect)
        else:
            detail = "%d, %d bytes, identical" % (status, len(data))
        if ok and method == "POST" and status == 201:
            new_id = re.search(rb"<id><!\[CDATA\[(\d+)\]\]></id>", data).group(1).decode()
            state["thread" if "threads" in path else "message"] = new_id
    else:
        if answered != "php":
            ok = False
            detail = "%d %r" % (status, data[:160])
        elif method == "HEAD":
            detail = "%d (HEAD)" % status
        else:
            seen = json.loads(data)
            script = "/index.php" if expect is None else "/webservice/dispatcher.php"
            if seen["script"] != script or (expect is not None and seen["url"] != expect):
                ok = False
            if "Authorization" in headers and not seen["authorization"]:
                ok = False
                detail = "PHP did not get the Authorization header; "
            detail += "%s url=%r" % (seen["script"], seen["url"])
    return name, method, path, side, answered, ok, detail


def client_address_checks():
    """Through the proxy, failed authentications are counted per real client address, and the
    scheme is the one the proxy says."""
    rows = []
    path = "/api/customer_threads"
    bad = {"Authorization": BAD_BASIC}
    statuses = [send(PROXY, "GET", path, bad, source=CLIENT_A)[0] for _ in range(21)]
    rows.append(("21 wrong keys from " + CLIENT_A, "GET", path, "threadgate",
                 "threadgate", statuses == [401] * 20 + [429],
                 "20 x 401 then %s" % statuses[-1]))
    s = send(PROXY, "GET", path, bad, source=CLIENT_B)[0]
    rows.append(("then a wrong key from " + CLIENT_B, "GET", path, "threadgate", "threadgate",
                 s == 401, "%d (its own count, not the proxy's)" % s))
    forged = dict(bad, **{"X-Forwarded-For": CLIENT_B})
    s = send(PROXY, "GET", path, forged, source=CLIENT_A)[0]
    rows.append(("%s forging X-Forwarded-For" % CLIENT_A, "GET", path, "threadgate", "threadgate",
                 s == 429, "%d (the proxy's hop is believed, the client's is not)" % s))
    # The scheme of xlink:href comes from the proxy's X-Forwarded-Proto, not from the client.
    status, _, data = send(PROXY, "GET", path, dict(AUTH, **{"X-Forwarded-Proto": "https"}))
    want = b'xlink:href="http://%s/api/customer_threads/1"' % HOST.encode()
    # (sent directly, the same header is believed: the check above is not vacuous)
    direct = send(DIRECT, "GET", path, dict(AUTH, **{"X-Forwarded-Proto": "https"}))[2]
    if b'xlink:href="https://' not in direct:
        want = b"threadgate ignores X-Forwarded-Proto, the check proves nothing"
    rows.append(("client forging X-Forwarded-Proto", "GET", path, "threadgate", "threadgate",
                 status == 200 and want in data,
                 "%d, xlink:href %s" % (status, "http:// (the proxy's scheme)" if want in data else "WRONG")))
    rows.append(logged_client_check())
    return rows


def logged_client_check():
    """The access line threadgate logs for a request through the proxy names the real client."""
    path = "/api/customer_threads/1"
    rid = "proxy-%s-logged-client" % NAME
    status = send(PROXY, "GET", path, dict(AUTH, **{"X-Request-Id": rid}), source=CLIENT_B)[0]
    line = None
    deadline = time.monotonic() + 5
    while line is None and time.monotonic() < deadline:
        with open(os.environ["THREADGATE_PROXY_LOG"], errors="replace") as f:
            line = next((l for l in f if "request_id=%s" % rid in l and "threadgate::access" in l), None)
        if line is None:
            time.sleep(0.05)
    ok = status == 200 and line is not None and (" client=%s " % CLIENT_B) in line
    detail = "%d, access line: %s" % (status, "client=" + CLIENT_B if ok else repr(line))
    return ("access log names the real client " + CLIENT_B, "GET", path, "threadgate", "threadgate", ok, detail)


def main():
    rows = [run_form(f) for f in FORMS] + client_address_checks()
    passed = sum(1 for r in rows if r[5])
    failed = len(rows) - passed
    w = max(len(r[0]) for r in rows)
    print("%-*s  %-6s  %-10s  %-10s  %-4s  %s" % (w, "form (%s)" % NAME, "method", "expected", "answered", "ok", "detail"))
    for name, method, path, side, answered, ok, detail in rows:
        print("%-*s  %-6s  %-10s  %-10s  %-4s  %s  [%s]" % (w, name, method, side, answered, "ok" if ok else "FAIL", detail, path))
    print("%s: %d passed, %d failed" % (NAME, passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
