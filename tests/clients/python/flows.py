"""Client flows for the Python clients, run by scripts/clients against a threadgate server.

    python flows.py prestapyt     prestapyt 0.11.1 (XML, ElementTree and dict modes)
    python flows.py prestashop    PyPI prestashop 0.1.8 (JSON mode, plus a few XML-mode calls)

The server is on TG_URL with the demo shop (src/seed.rs): threads 1-3, messages 1-3. TG_KEY_FULL
may do everything on both resources, TG_KEY_READ only GET and HEAD. Each flow asserts the values
the client returns. Prints one line per flow and a closing `<suite>: N passed, N failed`; exits 1
if anything failed. No test framework: a flow is a function, a failure is an exception.
"""

import os
import sys
import traceback
import warnings

URL = os.environ["TG_URL"]
KEY_FULL = os.environ["TG_KEY_FULL"]
KEY_READ = os.environ["TG_KEY_READ"]
BAD_KEY = "Z" * 32

FLOWS = []


def flow(fn):
    FLOWS.append(fn)
    return fn


def eq(actual, expected, what=""):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc_type.__name__}")


def run(suite, flows):
    passed = failed = 0
    for fn in flows:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fn()
                # prestapyt warns on every call when PSWS-Version is outside 1.4.0.17-1.7.8.999
                # (docs/clients/README.md#prestapyt); threadgate's default 1.7.8.11 must keep it
                # silent.
                noisy = [str(w.message) for w in caught if "compatible" in str(w.message)]
                if noisy:
                    raise AssertionError(f"version warning: {noisy[0]}")
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc(file=sys.stdout)
                continue
        passed += 1
        print(f"ok   {fn.__name__}")
    print(f"{suite}: {passed} passed, {failed} failed", flush=True)
    return failed == 0


# --------------------------------------------------------------------------------------------
# prestapyt 0.11.1
# --------------------------------------------------------------------------------------------


def prestapyt_flows():
    from xml.etree import ElementTree

    import prestapyt
    from prestapyt import (
        PrestaShopAuthenticationError,
        PrestaShopWebService,
        PrestaShopWebServiceDict,
        PrestaShopWebServiceError,
    )

    eq(prestapyt.version.__version__, "0.11.1", "prestapyt version")
    api = PrestaShopWebServiceDict(URL + "/api", KEY_FULL)
    api_xml = PrestaShopWebService(URL + "/api", KEY_FULL)
    api_read = PrestaShopWebServiceDict(URL + "/api", KEY_READ)

    def new_thread(email, status="open"):
        blank = api.get("customer_threads", options={"schema": "blank"})
        thread = blank["customer_thread"]
        thread.update(
            {"id_lang": "1", "id_contact": "2", "id_shop": "1", "id_customer": "2",
             "email": email, "token": "tok" + email[:9], "status": status}
        )
        # add() and edit() answer the whole document ({'prestashop': ...}); only get() strips it
        return api.add("customer_threads", blank)["prestashop"]["customer_thread"]

    @flow
    def head_of_the_root_is_the_connection_test():
        headers = api.head("")  # OCA connector's test_connection
        eq(headers.get("psws-version"), "1.7.8.11", "PSWS-Version")

    @flow
    def search_lists_every_id():
        eq(api.search("customer_threads"), [1, 2, 3], "thread ids")
        eq(api.search("customer_messages"), [1, 2, 3], "message ids")

    @flow
    def search_with_filter_sort_and_limit():
        opts = {"filter[status]": "[open|pending1]", "sort": "[id_DESC]"}
        eq(api.search("customer_threads", options=opts), [3, 1], "open|pending1 by id desc")
        eq(api.search("customer_threads", options=dict(opts, limit="1")), [3], "limit 1")
        eq(api.search("customer_threads", options=dict(opts, limit="1,1")), [1], "limit 1,1")
        eq(api.search("customer_threads", options={"filter[email]": "%[example]%"}), [2, 3], "LIKE")
        # OCA connector's incremental import: date=1 and a strict comparison on date_upd
        since = {"date": "1", "filter[date_upd]": ">[2024-02-01 00:00:00]"}
        eq(api.search("customer_threads", options=since), [2, 3], "date_upd > 2024-02-01")
        # a single hit is not a list in prestapyt's dict, zero hits is an empty string
        eq(api.search("customer_threads", options={"filter[id]": "[2]"}), [2], "one hit")
        eq(api.search("customer_threads", options={"filter[status]": "[pending2]"}), [], "no hit")

    @flow
    def search_pages_like_the_oca_connector():
        seen, offset = [], 0
        while True:
            page = api.search("customer_messages", options={"limit": f"{offset},2"})
            seen += page
            if len(page) < 2:
                break
            offset += 2
        eq(seen, [1, 2, 3], "pages of 2")

    @flow
    def get_one_thread():
        t = api.get("customer_threads", 1)["customer_thread"]
        eq(t["id"], "1", "id")
        eq(t["email"], "pub@prestashop.com", "email")
        eq(t["status"], "open", "status")
        eq(t["token"], "aBcD1234eFgH", "token")
        eq(t["id_order"], "5", "id_order (xlink:href dropped by prestapyt)")
        eq(t["id_product"], "0", "zero id renders as 0")
        eq(t["date_upd"], "2024-01-16 11:30:00", "date_upd")
        ids = [m["id"] for m in t["associations"]["customer_messages"]["customer_message"]]
        eq(ids, ["1", "3"], "message ids in the association")
        eq(t["associations"]["customer_messages"]["attrs"]["nodeType"], "customer_message", "nodeType")

    @flow
    def get_one_message_then_its_thread_like_the_oca_connector():
        m = api.get("customer_messages", 3)["customer_message"]
        eq(m["message"], "Your order ships tomorrow.", "message")
        eq(m["id_employee"], "1", "id_employee")
        eq(m["private"], "0", "private")
        t = api.get("customer_threads", m["id_customer_thread"])["customer_thread"]
        eq(t["id_customer"], "2", "id_customer")
        eq(t["id_order"] == "0", False, "order thread")

    @flow
    def get_with_display():
        r = api.get("customer_threads", options={"display": "[id,email,status]", "filter[id]": "[2|3]"})
        rows = r["customer_threads"]["customer_thread"]
        eq([(x["id"], x["email"], x["status"]) for x in rows],
           [("2", "guest@example.com", "closed"), ("3", "marie@example.com", "pending1")], "rows")
        eq(sorted(rows[0].keys()), ["email", "id", "status"], "only the displayed fields")
        full = api.get("customer_messages", options={"display": "full", "filter[id_customer_thread]": "[1]"})
        msgs = full["customer_messages"]["customer_message"]
        eq([x["message"] for x in msgs], ["Hello <b>world</b>\nline2", "Your order ships tomorrow."], "messages")
        eq(msgs[0]["ip_address"], "2130706433", "ip_address")

    @flow
    def get_as_elementtree():
        root = api_xml.get("customer_threads", 3)
        eq(root.tag, "prestashop", "root")
        eq(root.find("customer_thread/email").text, "marie@example.com", "email")
        href = root.find("customer_thread/id_customer").get("{http://www.w3.org/1999/xlink}href")
        eq(href, URL + "/api/customers/3", "xlink:href")
        ids = [e.get("id") for e in api_xml.get("customer_threads").iter("customer_thread")]
        eq(ids, ["1", "2", "3"], "minimal list ids")

    @flow
    def blank_schema_fill_and_add_then_read_back():
        blank = api.get("customer_threads", options={"schema": "blank"})
        t = blank["customer_thread"]
        eq(t["email"], "", "blank email")
        eq("id" in t, True, "blank has id")
        t.update({"id_lang": "1", "id_contact": "1", "id_shop": "1", "email": "new@example.com",
                  "token": "NEWTOKEN0001", "status": "pending2"})
        created = api.add("customer_threads", blank)["prestashop"]["customer_thread"]
        new_id = created["id"]
        eq(int(new_id) > 3, True, "new id")
        eq(created["email"], "new@example.com", "created email")
        eq(created["status"], "pending2", "created status")
        eq(created["token"], "NEWTOKEN0001", "created token")
        back = api.get("customer_threads", new_id)["customer_thread"]
        eq(back["email"], "new@example.com", "read back")
        eq(back["id_contact"], "1", "read back id_contact")
        # a message in the new thread, through the message blank schema
        mblank = api.get("customer_messages", options={"schema": "blank"})
        mblank["customer_message"].update({"id_customer_thread": new_id, "message": "Where is my parcel?",
                                           "id_employee": "0", "private": "0"})
        m = api.add("customer_messages", mblank)["prestashop"]["customer_message"]
        eq(m["message"], "Where is my parcel?", "message")
        eq(m["id_customer_thread"], new_id, "thread id")
        again = api.get("customer_threads", new_id)["customer_thread"]
        eq(again["associations"]["customer_messages"]["customer_message"]["id"], m["id"], "association")

    @flow
    def partial_add_merges_the_blank_schema():
        created = api.partial_add("customer_threads", {"customer_thread": {
            "id_lang": "2", "id_contact": "2", "token": "PARTIAL00001", "email": "partial@example.com"}})
        t = created["prestashop"]["customer_thread"]
        eq((t["id_lang"], t["email"]), ("2", "partial@example.com"), "created")

    @flow
    def edit_puts_to_the_collection_with_associations_echoed():
        t = new_thread("edit@example.com")
        tid = t["id"]
        current = api.get("customer_threads", tid)
        # the round-tripped document keeps <associations nodeType=".." api=".."> and every field
        eq("associations" in current["customer_thread"], True, "associations present")
        current["customer_thread"]["status"] = "closed"
        current["customer_thread"]["email"] = "edited@example.com"
        edited = api.edit("customer_threads", current)["prestashop"]["customer_thread"]
        eq(edited["id"], tid, "id")
        eq(edited["status"], "closed", "edited status")
        eq(edited["email"], "edited@example.com", "edited email")
        eq(api.get("customer_threads", tid)["customer_thread"]["status"], "closed", "stored status")
        # partial_edit = GET + merge + PUT of the whole document
        api.partial_edit("customer_threads", tid, {"customer_thread": {"status": "pending1"}})
        back = api.get("customer_threads", tid)["customer_thread"]
        eq((back["status"], back["email"]), ("pending1", "edited@example.com"), "after partial_edit")

    @flow
    def edit_with_the_elementtree_client():
        root = api_xml.get("customer_threads", new_thread("et@example.com")["id"])
        root.find("customer_thread/status").text = "closed"
        out = api_xml.edit("customer_threads", ElementTree.tostring(root))
        eq(out.find("customer_thread/status").text, "closed", "status")

    @flow
    def delete_one():
        tid = new_thread("delete-one@example.com")["id"]
        eq(api.delete("customer_threads", tid), True, "delete")
        e = raises(PrestaShopWebServiceError, api.get, "customer_threads", tid)
        eq(e.msg, "HTTP response is empty", "GET after delete (404, empty body)")

    @flow
    def delete_several():
        a = new_thread("delete-a@example.com")["id"]
        b = new_thread("delete-b@example.com")["id"]
        eq(api.delete("customer_threads", [a, b]), True, "delete [a,b]")
        eq(api.search("customer_threads", options={"filter[id]": f"[{a}|{b}]"}), [], "gone")
        eq(api.search("customer_threads", options={"filter[id]": "[1|2|3]"}), [1, 2, 3], "demo rows kept")

    @flow
    def error_401_is_an_authentication_error():
        bad = PrestaShopWebServiceDict(URL + "/api", BAD_KEY)
        e = raises(PrestaShopAuthenticationError, bad.search, "customer_threads")
        eq(e.error_code, 401, "status")
        eq(e.msg, "Unauthorized", "message")

    @flow
    def error_404_on_an_unknown_id():
        e = raises(PrestaShopWebServiceError, api.get, "customer_threads", 999)
        eq(e.msg, "HTTP response is empty", "unknown id: 404 with an empty body")
        e = raises(PrestaShopWebServiceError, api.delete, "customer_threads", [998, 999])
        eq((e.error_code, e.ps_error_code), (404, "87"), "delete of unknown ids")
        eq(e.ps_error_msg, "Id(s) not exists: 998, 999", "message 87")

    @flow
    def error_400_on_a_validation_error():
        blank = api.get("customer_threads", options={"schema": "blank"})
        blank["customer_thread"].update({"id_lang": "1", "id_contact": "1", "token": "x",
                                         "email": "not an e-mail"})
        e = raises(PrestaShopWebServiceError, api.add, "customer_threads", blank)
        eq((e.error_code, e.msg, e.ps_error_code), (400, "Bad Request", "85"), "validation")
        eq("email" in e.ps_error_msg, True, f"message names the field: {e.ps_error_msg}")
        blank["customer_thread"]["email"] = "ok@example.com"
        del blank["customer_thread"]["id_lang"]
        e = raises(PrestaShopWebServiceError, api.add, "customer_threads", blank)
        eq((e.error_code, e.ps_error_code), (400, "41"), "required field")

    @flow
    def read_only_key_reads_but_cannot_write():
        eq(api_read.search("customer_threads", options={"filter[id]": "[1|2|3]"}), [1, 2, 3], "read")
        e = raises(PrestaShopWebServiceError, api_read.delete, "customer_threads", 1)
        eq((e.error_code, e.ps_error_code), (405, "25"), "DELETE not granted")
        eq(api.search("customer_threads", options={"filter[id]": "[1]"}), [1], "still there")

    return FLOWS


# --------------------------------------------------------------------------------------------
# PyPI prestashop 0.1.8 (AiSyS-Next)
# --------------------------------------------------------------------------------------------


def prestashop_flows():
    import requests
    from prestashop import Format, Prestashop
    from prestashop.exceptions import PrestaShopAuthenticationError, PrestaShopError
    from prestashop.version import __version__

    eq(__version__, "0.1.8", "prestashop version")
    api = Prestashop(URL, KEY_FULL, data_format=Format.JSON)
    api_xml = Prestashop(URL, KEY_FULL, data_format=Format.XML)
    api_read = Prestashop(URL, KEY_READ, data_format=Format.JSON)

    def thread(email, **extra):
        t = {"id_lang": "1", "id_contact": "2", "id_shop": "1", "email": email,
             "token": "TOKEN" + email[:7], "status": "open"}
        t.update(extra)
        return {"customer_thread": t}

    def create(email, **extra):
        return api.create("customer_threads", thread(email, **extra))["customer_thread"]

    @flow
    def constructor_reads_the_version_and_ping_succeeds():
        eq(api.ps_version, "1.7.8.11", "PSWS-Version read by HEAD /api/")
        eq(api.ping(), True, "ping")

    @flow
    def search_full():
        rows = api.search("customer_threads")["customer_threads"]
        eq([r["id"] for r in rows], [1, 2, 3], "ids are numbers")
        eq(rows[0]["email"], "pub@prestashop.com", "email")
        eq(rows[0]["id_order"], "5", "other values are strings")
        eq(rows[0]["associations"]["customer_messages"], [{"id": "1"}, {"id": "3"}], "flat association")

    @flow
    def search_with_filter_sort_and_limit():
        r = api.search("customer_threads", _filter="[status]=[open|pending1]", sort="[id_DESC]")
        eq([x["id"] for x in r["customer_threads"]], [3, 1], "filter + sort")
        r = api.search("customer_threads", display="[id,status]", _filter="[status]=[open|pending1]",
                       sort="[id_DESC]", limit="1,1")
        eq(r, {"customer_threads": [{"id": 1, "status": "open"}]}, "display + limit")
        r = api.search("customer_messages", _filter="[message]=%[order]%")
        eq([x["id"] for x in r["customer_messages"]], [3], "LIKE on message")

    @flow
    def search_with_no_hit_is_the_bare_empty_array():
        eq(api.search("customer_threads", _filter="[status]=[pending2]"), [], "PrestaShop's [] quirk")

    @flow
    def read_one_sends_id_get_and_gets_the_list_shape():
        # read() passes 'GET' as the ids argument: GET /api/customer_threads/3?...&id=GET
        r = api.read("customer_threads", "3")
        eq(list(r.keys()), ["customer_threads"], "display=full gives the plural shape")
        t = r["customer_threads"][0]
        eq((t["id"], t["email"], t["status"], t["id_product"]), (3, "marie@example.com", "pending1", "1"), "row")
        r = api.read("customer_messages", "2", display="[id,message]")
        eq(r, {"customer_messages": [{"id": 2, "message": "Bonjour, le t-shirt existe-t-il en XL ?"}]}, "display")

    @flow
    def create_then_read_back():
        c = create("json-create@example.com", status="pending2")
        eq(isinstance(c["id"], int) and c["id"] > 3, True, f"new id {c['id']!r}")
        eq(c["email"], "json-create@example.com", "email")
        eq(c["status"], "pending2", "status")
        back = api.read("customer_threads", str(c["id"]))["customer_threads"][0]
        eq((back["email"], back["token"]), ("json-create@example.com", "TOKENjson-cr"), "stored")
        m = api.create("customer_messages", {"customer_message": {
            "id_customer_thread": str(c["id"]), "message": "JSON mode hello", "id_employee": "0"}})
        eq(m["customer_message"]["message"], "JSON mode hello", "message created")

    @flow
    def write_puts_to_the_collection():
        c = create("json-write@example.com")
        updated = api.write("customer_threads", thread("json-written@example.com", id=str(c["id"]), status="closed"))
        u = updated["customer_thread"]
        eq((u["id"], u["email"], u["status"]), (c["id"], "json-written@example.com", "closed"), "updated")
        back = api.read("customer_threads", str(c["id"]))["customer_threads"][0]
        eq(back["status"], "closed", "stored")

    @flow
    def unlink_one_without_brackets_and_several():
        a, b, c = (create(f"unlink{i}@example.com")["id"] for i in range(3))
        # unlink(res, "3") sends ?id=3 without brackets (docs/compatibility.md W9: means [3])
        eq(api.unlink("customer_threads", str(a)), True, "unlink one")
        eq(api.unlink("customer_threads", [b, c]), True, "unlink several (id=%5Bb%2Cc%5D)")
        r = api.search("customer_threads", _filter=f"[id]=[{a}|{b}|{c}]")
        eq(r, [], "all gone")

    @flow
    def xml_mode_reads_and_writes():
        root = api_xml.read("customer_threads", "1")  # XML keeps the single shape with display
        eq(root.find("customer_thread/email").text, "pub@prestashop.com", "XML read")
        root = api_xml.search("customer_threads", display="[id,status]", _filter="[id]=[2]")
        eq(root.find("customer_threads/customer_thread/status").text, "closed", "XML search")
        created = api_xml.create("customer_threads", thread("xml-mode@example.com"))
        new_id = created.find("customer_thread/id").text
        eq(created.find("customer_thread/email").text, "xml-mode@example.com", "XML create")
        eq(api_xml.unlink("customer_threads", [int(new_id)]), True, "XML unlink")

    @flow
    def error_401():
        bad = Prestashop(URL, BAD_KEY, data_format=Format.JSON)
        e = raises(PrestaShopAuthenticationError, bad.search, "customer_threads")
        eq((e.error_code, e.msg), (401, "Unauthorized"), "401")

    @flow
    def error_404_on_delete_of_unknown_ids():
        e = raises(PrestaShopError, api.unlink, "customer_threads", [998, 999])
        eq((e.error_code, e.ps_error_code), (404, 87), "404 code 87")
        eq(e.ps_error_msg, "Id(s) not exists: 998, 999", "message")

    @flow
    def error_404_on_read_of_an_unknown_id_is_a_json_decode_error():
        # As with PrestaShop: the 404 body is empty and the client calls response.json() on it.
        raises(requests.exceptions.JSONDecodeError, api.read, "customer_threads", "999")

    @flow
    def error_400_on_a_validation_error():
        e = raises(PrestaShopError, api.create, "customer_threads", thread("bad", status="open"))
        eq((e.error_code, e.ps_error_code), (400, 85), "validation")
        e = raises(PrestaShopError, api.create, "customer_threads", thread("x@example.com", status="weird"))
        eq((e.error_code, e.ps_error_code), (400, 85), "status outside the list (W13)")

    @flow
    def json_bodies_round_trip_through_the_clients_request_method():
        # create() and write() always send dict2xml's XML, labelled Content-Type:
        # application/json (threadgate reads a body starting with '<' as XML: the flows above).
        # _exec, the client's own request method, sends a body as given: a JSON body of the
        # shape threadgate answers (docs/compatibility.md, "JSON request bodies").
        import json

        blank = api._exec("customer_threads?schema=blank", display="full")
        t = blank["customer_threads"][0]
        eq(t["associations"], {"customer_messages": [{"id": None}]}, "blank schema")
        t.update({"id_lang": "1", "id_contact": "2", "email": "json-body@example.com",
                  "token": "JsonT0ken", "status": "open"})
        created = api._exec("customer_threads", method="POST",
                            data=json.dumps({"customer_thread": t}))["customer_thread"]
        new_id = created["id"]
        eq(isinstance(new_id, int) and new_id > 3, True, f"new id {new_id!r}")
        eq((created["email"], created["token"], created["status"]),
           ("json-body@example.com", "JsonT0ken", "open"), "created from JSON")
        got = api.read("customer_threads", str(new_id))["customer_threads"][0]
        got["status"] = "closed"
        put = api._exec("customer_threads", method="PUT",
                        data=json.dumps({"customer_thread": got}))["customer_thread"]
        eq((put["id"], put["status"], put["email"]), (new_id, "closed", "json-body@example.com"), "PUT")
        patched = api._exec("customer_threads", method="PATCH",
                            data=json.dumps({"customer_thread": {"id": new_id, "id_order": 5}}))
        eq((patched["customer_thread"]["id_order"], patched["customer_thread"]["status"]),
           ("5", "closed"), "PATCH")
        e = raises(PrestaShopError, api._exec, "customer_threads", method="POST",
                   data='{"customer_thread":{"email":')
        eq((e.error_code, e.ps_error_code), (500, 127), "malformed JSON")
        eq(e.ps_error_msg.split("\n")[0], "JSON error : EOF while parsing a value at line 1 column 28",
           "reason")
        eq(api.unlink("customer_threads", [new_id]), True, "unlink")

    @flow
    def read_only_key():
        rows = api_read.search("customer_threads", _filter="[id]=[1|2|3]")["customer_threads"]
        eq([r["id"] for r in rows], [1, 2, 3], "read")
        e = raises(PrestaShopError, api_read.create, "customer_threads", thread("ro@example.com"))
        eq((e.error_code, e.ps_error_code), (405, 25), "POST not granted")

    return FLOWS


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else ""
    if suite == "prestapyt":
        flows = prestapyt_flows()
        label = "prestapyt 0.11.1"
    elif suite == "prestashop":
        flows = prestashop_flows()
        label = "prestashop 0.1.8"
    else:
        sys.exit("usage: flows.py prestapyt|prestashop")
    sys.exit(0 if run(label, flows) else 1)


if __name__ == "__main__":
    main()
