#!/usr/bin/env python3
"""Stand-in for the shop's PHP (PHP-FPM) in scripts/proxy-test: a FastCGI responder.

nginx (`fastcgi_pass`) and Apache (`SetHandler "proxy:fcgi://..."`, the PHP-FPM setup of
Debian) hand it every request the shipped configuration leaves to PrestaShop. It answers each
with 200, the header `X-Standin: php` and a JSON body saying what PHP would have seen: the
script, the method, the query string, `$_GET['url']` (PHP keeps the last of duplicate names),
and whether an Authorization reached it. Nothing here is PrestaShop code.

    php_standin.py PORT        listen on 127.0.0.1:PORT until SIGTERM
"""

import json
import signal
import socket
import socketserver
import struct
import sys
import urllib.parse

BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 2, 3, 4, 5, 6
GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = 9, 10, 11
KEEP_CONN = 1


def read_exact(sock_file, n):
    data = sock_file.read(n)
    if data is None or len(data) < n:
        raise EOFError
    return data


def read_record(sock_file):
    version, rtype, request_id, length, padding, _ = struct.unpack("!BBHHBB", read_exact(sock_file, 8))
    content = read_exact(sock_file, length) if length else b""
    if padding:
        read_exact(sock_file, padding)
    return rtype, request_id, content


def record(rtype, request_id, content=b""):
    out = b""
    # A record holds at most 65535 bytes of content.
    for start in range(0, max(len(content), 1), 65535):
        chunk = content[start:start + 65535]
        out += struct.pack("!BBHHBB", 1, rtype, request_id, len(chunk), 0, 0) + chunk
    return out


def name_values(data):
    """FastCGI name-value pairs: lengths of 1 byte, or 4 with the high bit set."""
    pairs, i = {}, 0

    def length():
        nonlocal i
        if data[i] & 0x80:
            n = struct.unpack("!I", data[i:i + 4])[0] & 0x7FFFFFFF
            i += 4
        else:
            n = data[i]
            i += 1
        return n

    while i < len(data):
        nl = length()
        vl = length()
        name = data[i:i + nl].decode("latin-1")
        i += nl
        pairs[name] = data[i:i + vl].decode("latin-1")
        i += vl
    return pairs


def php_get_url(query):
    """`$_GET['url']` for this query string: the last `url` wins, as in PHP."""
    url = None
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if urllib.parse.unquote_plus(name) == "url":
            url = urllib.parse.unquote_plus(value)
    return url


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            while self.one_request():
                pass
        except (EOFError, ConnectionError, struct.error):
            pass

    def one_request(self):
        params_raw, body, request_id, keep = b"", b"", 0, False
        params_done = stdin_done = False
        while not (params_done and stdin_done):
            rtype, rid, content = read_record(self.rfile)
            if rtype == BEGIN_REQUEST:
                request_id = rid
                keep = bool(content[2] & KEEP_CONN)
            elif rtype == PARAMS:
                if content:
                    params_raw += content
                else:
                    params_done = True
            elif rtype == STDIN:
                if content:
                    body += content
                else:
                    stdin_done = True
            elif rtype == ABORT_REQUEST:
                return False
            elif rtype == GET_VALUES:
                self.wfile.write(record(GET_VALUES_RESULT, 0))
            else:
                self.wfile.write(record(UNKNOWN_TYPE, 0, bytes([rtype]) + b"\0" * 7))
        p = name_values(params_raw)
        query = p.get("QUERY_STRING", "")
        seen = {
            "side": "php",
            "script": p.get("SCRIPT_NAME", ""),
            "method": p.get("REQUEST_METHOD", ""),
            "request_uri": p.get("REQUEST_URI", ""),
            "query": query,
            "url": php_get_url(query),
            "authorization": p.get("HTTP_AUTHORIZATION") or p.get("REDIRECT_HTTP_AUTHORIZATION"),
            "body_bytes": len(body),
        }
        payload = json.dumps(seen, sort_keys=True).encode() + b"\n"
        head = (
            "Status: 200 OK\r\nContent-Type: application/json\r\nX-Standin: php\r\n"
            "Content-Length: %d\r\n\r\n" % len(payload)
        ).encode()
        self.wfile.write(record(STDOUT, request_id, head + payload))
        self.wfile.write(record(STDOUT, request_id))
        self.wfile.write(record(END_REQUEST, request_id, struct.pack("!IB3x", 0, 0)))
        self.wfile.flush()
        return keep


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET


def main():
    port = int(sys.argv[1])
    server = Server(("127.0.0.1", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
