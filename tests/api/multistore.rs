//! The shop of a request without `id_shop`, from its host and path (`shop_url`, as PrestaShop 8's
//! `Shop::initialize`; docs/compatibility.md "The shop of a request"): three shops, keys
//! associated with one shop each, requested by `Host` and `X-Forwarded-Host`.

use threadgate::resource::Method;

use crate::support::{demo_thread_list, http::basic, xml_error, Response, TestApp};

/// Shop 1 (the demo shop, `localhost`, default) also answers on `shops.test/`; shop 2 on
/// `second.test` (`secure.second.test` as its SSL domain); shop 3 (another group) on
/// `third.test/boutique/` (main) and `shops.test/third/` (a virtual URI).
const SHOPS: &str = "
INSERT INTO `ps_shop` (`id_shop`, `id_shop_group`, `name`, `color`, `id_category`, `theme_name`, `active`, `deleted`) VALUES
  (2, 1, 'Second shop', '', 2, 'classic', 1, 0),
  (3, 2, 'Third shop', '', 2, 'classic', 1, 0);
INSERT INTO `ps_shop_url` (`id_shop_url`, `id_shop`, `domain`, `domain_ssl`, `physical_uri`, `virtual_uri`, `main`, `active`) VALUES
  (2, 2, 'second.test', 'secure.second.test', '/', '', 1, 1),
  (3, 3, 'third.test', 'third.test', '/boutique/', '', 1, 1),
  (4, 3, 'shops.test', 'shops.test', '/', 'third/', 0, 1),
  (5, 1, 'shops.test', 'shops.test', '/', '', 0, 1);
INSERT INTO `ps_configuration` (`id_configuration`, `id_shop_group`, `id_shop`, `name`, `value`, `date_add`, `date_upd`) VALUES
  (10, 1, 2, 'PS_SHOP_NAME', 'Second shop', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (11, 2, 3, 'PS_SHOP_NAME', 'Third shop', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
";

struct Shops {
    app: TestApp,
    /// Keys associated with shop 1, 2 and 3 only (every method on both resources).
    keys: [String; 3],
    /// A key associated with all three shops.
    all: String,
}

fn shops() -> Shops {
    let app = TestApp::spawn();
    app.db.exec(SHOPS);
    app.refresh();
    let key = |shops: &[u32]| {
        app.db.key(
            &["customer_threads", "customer_messages"],
            &Method::ALL,
            shops,
        )
    };
    let keys = [key(&[1]), key(&[2]), key(&[3])];
    let all = key(&[1, 2, 3]);
    Shops { app, keys, all }
}

/// GET `path` with these extra header lines (`Host: ...` among them).
fn get(app: &TestApp, key: &str, headers: &str, path: &str) -> Response {
    app.raw(
        &format!(
            "GET {path} HTTP/1.1\r\nAuthorization: {}\r\n{headers}",
            basic(key)
        ),
        b"",
    )
}

fn error_132() -> String {
    xml_error(132, "No permission for this key on this shop")
}

/// The root listing of a key with every method on both resources, for `shop_name`, linked
/// under `base`.
fn root_listing(shop_name: &str, base: &str) -> String {
    let read_only =
        r#"get="true" put="false" post="false" patch="false" delete="false" head="true""#;
    let every = r#"get="true" put="true" post="true" patch="true" delete="true" head="true""#;
    golden!("api_root.xml")
        .replace("My Shop &amp; Co&#039;s", shop_name)
        .replace("http://example.com/", base)
        .replace(read_only, every)
}

#[test]
fn a_key_is_accepted_on_its_shops_domains_and_refused_elsewhere_with_code_132() {
    let s = shops();
    let cases: [(&str, usize); 8] = [
        ("localhost", 0),
        ("localhost:8080", 0),
        ("second.test", 1),
        ("SECOND.Test:8443", 1),
        ("secure.second.test", 1),
        ("third.test", 2),
        ("third.test:80", 2),
        // An unknown host is the default shop (PS_SHOP_DEFAULT = 1).
        ("example.com", 0),
    ];
    for (host, shop) in cases {
        for (i, key) in s.keys.iter().enumerate() {
            let r = get(
                &s.app,
                key,
                &format!("Host: {host}"),
                "/api/customer_threads",
            );
            if i == shop {
                assert_eq!(
                    r.status,
                    200,
                    "key of shop {} on {host}: {}",
                    i + 1,
                    r.text()
                );
                assert_eq!(r.text(), demo_thread_list(&format!("http://{host}/")));
            } else {
                assert_eq!(r.status, 403, "key of shop {} on {host}", i + 1);
                assert_eq!(r.text(), error_132(), "key of shop {} on {host}", i + 1);
            }
        }
        let r = get(
            &s.app,
            &s.all,
            &format!("Host: {host}"),
            "/api/customer_threads",
        );
        assert_eq!(r.status, 200, "{host}");
    }
}

#[test]
fn x_forwarded_host_names_the_shop_whenever_it_is_sent() {
    let s = shops();
    let [one, two, _] = &s.keys;
    let h = "Host: localhost\r\nX-Forwarded-Host: second.test";
    assert_eq!(get(&s.app, two, h, "/api/customer_threads").status, 200);
    let r = get(&s.app, one, h, "/api/customer_threads");
    assert_eq!((r.status, r.text()), (403, error_132().as_str()));
    // An unknown forwarded host is the default shop, whatever Host says.
    let h = "Host: second.test\r\nX-Forwarded-Host: proxy.internal";
    assert_eq!(get(&s.app, one, h, "/api/customer_threads").status, 200);
    assert_eq!(get(&s.app, two, h, "/api/customer_threads").status, 403);
    // The JSON error document when JSON is asked.
    let r = get(
        &s.app,
        one,
        "Host: second.test",
        "/api/customer_threads?output_format=JSON",
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        r#"{"errors":[{"code":132,"message":"No permission for this key on this shop"}]}"#
    );
}

#[test]
fn the_longest_matching_uri_picks_the_shop_and_stays_in_the_links() {
    let s = shops();
    let [one, _, three] = &s.keys;
    // `shops.test/third/` (physical `/` + virtual `third/`) is shop 3; `shops.test/` is shop 1.
    let r = get(
        &s.app,
        three,
        "Host: shops.test",
        "/third/api/customer_threads/1",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let reference = get(
        &s.app,
        &s.all,
        "Host: example.com",
        "/api/customer_threads/1",
    );
    assert_eq!(
        r.text(),
        reference
            .text()
            .replace("http://example.com/api/", "http://shops.test/third/api/"),
        "the same document, every link under the shop's base URI"
    );
    assert_eq!(
        get(
            &s.app,
            one,
            "Host: shops.test",
            "/third/api/customer_threads/1"
        )
        .status,
        403
    );
    assert_eq!(
        get(&s.app, one, "Host: shops.test", "/api/customer_threads/1").status,
        200
    );
    assert_eq!(
        get(&s.app, three, "Host: shops.test", "/api/customer_threads/1").status,
        403
    );
    // The main URL with its physical URI.
    let r = get(
        &s.app,
        three,
        "Host: third.test",
        "/boutique/api/customer_threads",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), demo_thread_list("http://third.test/boutique/"));
    // A host whose URIs do not start the path (a proxy took the base URI away): the host's
    // main URL's shop, links from the root.
    let r = get(&s.app, three, "Host: third.test", "/api/customer_threads");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), demo_thread_list("http://third.test/"));
    // Outside a shop's URI and outside /api: no route.
    assert_eq!(
        get(
            &s.app,
            three,
            "Host: third.test",
            "/elsewhere/api/customer_threads"
        )
        .status,
        404
    );
}

#[test]
fn id_shop_still_decides_over_the_host() {
    let s = shops();
    let [one, two, _] = &s.keys;
    assert_eq!(
        get(
            &s.app,
            one,
            "Host: second.test",
            "/api/customer_threads?id_shop=1"
        )
        .status,
        200
    );
    assert_eq!(
        get(
            &s.app,
            two,
            "Host: second.test",
            "/api/customer_threads?id_shop=1"
        )
        .status,
        403
    );
    assert_eq!(
        get(
            &s.app,
            two,
            "Host: localhost",
            "/api/customer_threads?id_shop_group=1"
        )
        .status,
        200,
        "group 1 holds shops 1 and 2"
    );
}

#[test]
fn the_root_listing_is_the_resolved_shops() {
    let s = shops();
    let [one, two, _] = &s.keys;
    let r = get(&s.app, two, "Host: second.test", "/api/");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), root_listing("Second shop", "http://second.test/"));
    let r = get(&s.app, &s.all, "Host: third.test", "/boutique/api/");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.text(),
        root_listing("Third shop", "http://third.test/boutique/")
    );
    let r = get(&s.app, &s.all, "Host: localhost", "/api/");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), root_listing("Demo shop", "http://localhost/"));
    let r = get(&s.app, one, "Host: second.test", "/api/?output_format=JSON");
    assert_eq!(r.status, 403);
    assert_eq!(
        get(&s.app, two, "Host: second.test", "/api/?output_format=JSON").text(),
        r#"["customer_messages","customer_threads"]"#
    );
}

#[test]
fn the_webservice_and_the_bridges_follow_the_resolved_shops_ps_webservice() {
    let s = shops();
    s.app.db.exec("INSERT INTO `ps_configuration` (`id_configuration`, `id_shop_group`, `id_shop`, `name`, `value`, `date_add`, `date_upd`) VALUES (12, 2, 3, 'PS_WEBSERVICE', '0', '2024-01-01 00:00:00', '2024-01-01 00:00:00')");
    s.app.refresh();
    let m10 = |host: &str| {
        s.app.raw(
            &format!(
                "GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: Bearer {}\r\nHost: {host}",
                s.all
            ),
            b"",
        )
    };
    let r = m10("third.test");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        r#"{"status":503,"message":"The webservice is disabled"}"#
    );
    let r = m10("localhost");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(m10("second.test").status, 200);
    let list = |host: &str| {
        s.app.raw(
            &format!(
                "POST /communications/departments/2/customers/2/threads HTTP/1.1\r\nAuthorization: {}\r\nHost: {host}\r\nContent-Type: application/json",
                basic(&s.all)
            ),
            b"{}",
        )
    };
    let r = list("third.test");
    assert_eq!(r.status, 503, "{}", r.text());
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["errors"][0]["errorCode"], "SERVICE_UNAVAILABLE");
    let r = list("localhost");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = get(&s.app, &s.all, "Host: third.test", "/api/customer_threads");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        xml_error(
            22,
            "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office"
        )
    );
    assert_eq!(
        get(&s.app, &s.all, "Host: second.test", "/api/customer_threads").status,
        200
    );
}

#[test]
fn shop_urls_are_read_with_the_snapshot_not_per_request() {
    let s = shops();
    let two = &s.keys[1];
    s.app.db.exec("INSERT INTO `ps_shop_url` (`id_shop_url`, `id_shop`, `domain`, `domain_ssl`, `physical_uri`, `virtual_uri`, `main`, `active`) VALUES (6, 2, 'fourth.test', 'fourth.test', '/', '', 0, 1)");
    assert_eq!(
        get(&s.app, two, "Host: fourth.test", "/api/customer_threads").status,
        403,
        "not read yet: the default shop"
    );
    s.app.refresh();
    assert_eq!(
        get(&s.app, two, "Host: fourth.test", "/api/customer_threads").status,
        200
    );
    // A shop that is switched off no longer owns its domains.
    s.app
        .db
        .exec("UPDATE `ps_shop` SET `active` = 0 WHERE `id_shop` = 2");
    s.app.refresh();
    assert_eq!(
        get(&s.app, two, "Host: second.test", "/api/customer_threads").status,
        403
    );
    assert_eq!(
        get(
            &s.app,
            &s.keys[0],
            "Host: second.test",
            "/api/customer_threads"
        )
        .status,
        200
    );
}
