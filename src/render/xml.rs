//! PrestaShop's XML documents (`WebserviceOutputXML` driven by `WebserviceOutputBuilder`,
//! docs/prestashop/documents.md#xml): every line ends with `\n`, field lines of an entity and
//! association items carry one TAB, values sit raw in CDATA.

use std::borrow::Cow;

use quick_xml::escape::escape;
use quick_xml::events::BytesCData;

use super::{association_ids, truthy, value, RootEntry, Selection};
use crate::error::ApiError;
use crate::php;
use crate::query::{Display, SchemaKind};
use crate::resource::{Entity, FieldDef, Method, ResourceDef};

pub(super) const PROLOG: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n";
pub(super) const EPILOG: &[u8] = b"</prestashop>\n";

/// `<name>\n`
pub(super) fn open_line(out: &mut Vec<u8>, name: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">\n");
}

/// `</name>\n`
pub(super) fn close_line(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">\n");
}

/// One entity without prolog: `<customer_thread id=".." xlink:href=".."/>` for
/// `display=minimum`, otherwise the element with its selected fields and associations.
pub(super) fn entity(
    out: &mut Vec<u8>,
    res: &ResourceDef,
    display: &Display,
    entity: &Entity,
    ws_url: &str,
) {
    let Some(sel) = Selection::of(display) else {
        let id = entity.id();
        out.push(b'<');
        out.extend_from_slice(res.singular.as_bytes());
        out.extend_from_slice(b" id=\"");
        attr_value(out, id);
        out.extend_from_slice(b"\" xlink:href=\"");
        href(out, ws_url, res.name, id);
        out.extend_from_slice(b"\"/>\n");
        return;
    };
    open_line(out, res.singular);
    for (i, f) in res.fields.iter().enumerate() {
        if sel.field(i) {
            field(out, f, value(entity, i), ws_url);
        }
    }
    if sel.has_associations(res) {
        out.extend_from_slice(b"<associations>\n");
        for (j, a) in res.associations.iter().enumerate() {
            if !sel.association(j) {
                continue;
            }
            let ids = association_ids(entity, j);
            association_header(out, a.name, a.node_type);
            if ids.is_empty() {
                // No items: the wrapper closes itself (docs/prestashop/documents.md#associations).
                out.extend_from_slice(b"/>\n");
                continue;
            }
            out.extend_from_slice(b">\n");
            for id in ids {
                out.extend_from_slice(b"\t<");
                out.extend_from_slice(a.node_type.as_bytes());
                out.extend_from_slice(b" xlink:href=\"");
                href(out, ws_url, a.name, id);
                out.extend_from_slice(b"\">\n\t<id>");
                cdata(out, id);
                out.extend_from_slice(b"</id>\n\t</");
                out.extend_from_slice(a.node_type.as_bytes());
                out.extend_from_slice(b">\n");
            }
            close_line(out, a.name);
        }
        out.extend_from_slice(b"</associations>\n");
    }
    close_line(out, res.singular);
}

/// `\t<name[ xlink:href=".."]><![CDATA[value]]></name>\n`. The xlink appears only on a truthy
/// value; a NULL renders as an empty CDATA (docs/prestashop/documents.md#fields-and-cdata).
fn field(out: &mut Vec<u8>, f: &FieldDef, v: Option<&str>, ws_url: &str) {
    out.extend_from_slice(b"\t<");
    out.extend_from_slice(f.name.as_bytes());
    if let (Some(resource), Some(v)) = (f.xlink, v) {
        if truthy(Some(v)) {
            out.extend_from_slice(b" xlink:href=\"");
            href(out, ws_url, resource, v);
            out.push(b'"');
        }
    }
    out.push(b'>');
    cdata(out, v.unwrap_or(""));
    out.extend_from_slice(b"</");
    out.extend_from_slice(f.name.as_bytes());
    out.extend_from_slice(b">\n");
}

/// `<customer_messages nodeType="customer_message" api="customer_messages"`, left open.
fn association_header(out: &mut Vec<u8>, name: &str, node_type: &str) {
    out.push(b'<');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b" nodeType=\"");
    out.extend_from_slice(node_type.as_bytes());
    out.extend_from_slice(b"\" api=\"");
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// `{ws_url}{resource}/{id}`, attribute-escaped.
fn href(out: &mut Vec<u8>, ws_url: &str, resource: &str, id: &str) {
    attr_value(out, ws_url);
    out.extend_from_slice(resource.as_bytes());
    out.push(b'/');
    attr_value(out, id);
}

/// `schema=blank|synopsis` (docs/prestashop/schemas.md): empty CDATA everywhere, no xlinks. Blank
/// keeps `id` and has no attributes; synopsis drops `id`, adds `required`/`maxSize`/`format` and
/// the association's `nodeType`/`api`. Each association shows one empty item.
pub(super) fn schema(out: &mut Vec<u8>, res: &ResourceDef, kind: SchemaKind) {
    let synopsis = kind == SchemaKind::Synopsis;
    out.extend_from_slice(PROLOG);
    open_line(out, res.singular);
    for f in res.fields {
        if synopsis && f.name == "id" {
            continue;
        }
        out.extend_from_slice(b"\t<");
        out.extend_from_slice(f.name.as_bytes());
        if synopsis {
            if f.required {
                out.extend_from_slice(b" required=\"true\"");
            }
            if let Some(n) = f.max_size {
                out.extend_from_slice(b" maxSize=\"");
                push_uint(out, u64::from(n));
                out.push(b'"');
            }
            if let Some(v) = f.validator {
                out.extend_from_slice(b" format=\"");
                out.extend_from_slice(v.as_bytes());
                out.push(b'"');
            }
        }
        out.extend_from_slice(b"><![CDATA[]]></");
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(b">\n");
    }
    if !res.associations.is_empty() {
        out.extend_from_slice(b"<associations>\n");
        for a in res.associations {
            if synopsis {
                association_header(out, a.name, a.node_type);
                out.extend_from_slice(b">\n");
            } else {
                open_line(out, a.name);
            }
            out.extend_from_slice(b"\t<");
            out.extend_from_slice(a.node_type.as_bytes());
            out.extend_from_slice(b">\n\t<id><![CDATA[]]></id>\n\t</");
            out.extend_from_slice(a.node_type.as_bytes());
            out.extend_from_slice(b">\n");
            close_line(out, a.name);
        }
        out.extend_from_slice(b"</associations>\n");
    }
    close_line(out, res.singular);
    out.extend_from_slice(EPILOG);
}

/// Error document (docs/prestashop/errors.md#document): no indentation, code and message in CDATA.
pub(super) fn errors(out: &mut Vec<u8>, error: &ApiError) {
    out.extend_from_slice(PROLOG);
    out.extend_from_slice(b"<errors>\n");
    for e in &error.errors {
        out.extend_from_slice(b"<error>\n<code><![CDATA[");
        push_uint(out, u64::from(e.code));
        out.extend_from_slice(b"]]></code>\n<message>");
        cdata(out, &e.message);
        out.extend_from_slice(b"</message>\n</error>\n");
    }
    out.extend_from_slice(b"</errors>\n");
    out.extend_from_slice(EPILOG);
}

/// Root listing (docs/prestashop/documents.md#root-listing). `entries` are already filtered and
/// sorted.
pub(super) fn root(out: &mut Vec<u8>, shop_name: &str, ws_url: &str, entries: &[&RootEntry<'_>]) {
    out.extend_from_slice(PROLOG);
    // Written pre-escaped with PHP's htmlspecialchars (`'` as `&#039;`), which is what
    // PrestaShop sends; a generic XML escaper would write `&apos;`.
    out.extend_from_slice(b"<api shopName=\"");
    out.extend_from_slice(xml_chars(&php::htmlspecialchars(shop_name)).as_bytes());
    out.extend_from_slice(b"\">\n");
    for e in entries {
        let name = e.resource.name;
        out.push(b'<');
        out.extend_from_slice(name.as_bytes());
        root_attributes(out, ws_url, name, &e.methods);
        out.extend_from_slice(b">\n<description");
        root_attributes(out, ws_url, name, &e.methods);
        out.extend_from_slice(b">\n");
        out.extend_from_slice(e.resource.description.as_bytes());
        out.extend_from_slice(b"</description>\n");
        for kind in ["blank", "synopsis"] {
            out.extend_from_slice(b"<schema xlink:href=\"");
            attr_value(out, ws_url);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"?schema=");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\" type=\"");
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b"\"/>\n");
        }
        close_line(out, name);
    }
    out.extend_from_slice(b"</api>\n");
    out.extend_from_slice(EPILOG);
}

/// ` xlink:href="{ws_url}{name}" get="true" put="false" ...` in `Method::ALL` order.
fn root_attributes(out: &mut Vec<u8>, ws_url: &str, name: &str, methods: &[bool; 6]) {
    out.extend_from_slice(b" xlink:href=\"");
    attr_value(out, ws_url);
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
    for (m, granted) in Method::ALL.iter().zip(methods) {
        out.push(b' ');
        out.extend_from_slice(m.attribute().as_bytes());
        out.extend_from_slice(if *granted {
            b"=\"true\""
        } else {
            b"=\"false\""
        });
    }
}

/// Writes `value` as CDATA. PrestaShop writes the value raw between `<![CDATA[` and `]]>`;
/// a value containing `]]>` is split into several sections (`a]]]]><![CDATA[>b`) so the
/// document stays well-formed (docs/compatibility.md W5), using quick-xml's CDATA splitter.
pub(super) fn cdata(out: &mut Vec<u8>, value: &str) {
    let value = xml_chars(value);
    for section in BytesCData::escaped(&value) {
        out.extend_from_slice(b"<![CDATA[");
        out.extend_from_slice(&section);
        out.extend_from_slice(b"]]>");
    }
}

/// An attribute value: XML 1.0 characters only, then escaped (`&`, `<`, `>`, `'`, `"`).
/// PrestaShop writes these raw; ids and the shop URL never contain such characters in practice,
/// and escaping keeps the document well-formed when they do (docs/compatibility.md W20).
fn attr_value(out: &mut Vec<u8>, s: &str) {
    let s = xml_chars(s);
    out.extend_from_slice(escape(s.as_ref()).as_bytes());
}

/// DEVIATION from PrestaShop (W20 in docs/compatibility.md):
/// characters that XML 1.0 forbids (C0 controls other than TAB, LF and CR; U+FFFE and U+FFFF) are
/// replaced by U+FFFD. PrestaShop writes them raw, and its document then fails to parse in every
/// client. Borrows the input unchanged in the usual case.
pub(super) fn xml_chars(s: &str) -> Cow<'_, str> {
    if !has_non_xml_char(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
            .collect(),
    )
}

fn has_non_xml_char(b: &[u8]) -> bool {
    b.iter().enumerate().any(|(i, &c)| match c {
        b'\t' | b'\n' | b'\r' => false,
        0..=0x1F => true,
        // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
        0xEF => b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)),
        _ => false,
    })
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Decimal digits of `n`, without a `String`.
pub(super) fn push_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
