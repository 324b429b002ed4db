//! JSON request bodies: threadgate's extension for clients that speak JSON (PrestaShop reads
//! only XML bodies; PrestaShop/PrestaShop#14889, #11099). The accepted documents are the ones
//! threadgate answers in JSON, turned into the same [`EntityInput`]s as the XML they stand for,
//! so validators, codes and transactions are the XML ones (docs/compatibility.md, "JSON request
//! bodies"):
//!
//! - the root is an object; each member is an entity (`{"customer_thread":{...}}`) or a list of
//!   entities (`{"customer_threads":[{...},{...}]}`), whatever its name, as every child of the
//!   XML root is. An empty array under the resource's plural name is no entity; anywhere else
//!   (`{"customer_message":[]}`, the message schema) it is an entity without fields, the PHP
//!   empty array it encodes;
//! - in an entity, `associations` is an object whose member names are the associations sent
//!   (`{"customer_messages":[{"id":"1"}]}`), or `[]` for none; every other member is a field;
//! - values become the strings PHP's `(string)` cast gives the decoded value: a string as it
//!   is; an integer in decimal; a number with a fraction or an exponent, or an integer beyond
//!   64 bits, as PHP writes a float (14 significant digits, `1.5`, `1.0E+25`); `true` is `"1"`,
//!   `false` and `null` are `""`. A member sent twice keeps its last value, at its first place
//!   (`json_decode`). An array or object as a field value is refused;
//! - strings may not hold characters XML 1.0 refuses (NUL and other C0 controls but TAB, LF
//!   and CR; U+FFFE, U+FFFF), so a JSON body stores nothing an XML body could not.
//!
//! Refusals are 500 code 127 with a `JSON error : <reason>` message (as `XML error :` for XML).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{EntityInput, MAX_ELEMENTS};
use crate::error::ApiError;
use crate::resource::ResourceDef;

/// A decoded JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    /// A number, already as the string PHP would cast it to.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Num(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        // `json_decode` turns an integer beyond PHP_INT_MAX into a float.
        Ok(Json::Num(match i64::try_from(v) {
            Ok(i) => i.to_string(),
            Err(_) => php_float(v as f64),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Num(php_float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            // PHP arrays: a repeated key keeps its first place and takes the last value.
            match members.iter_mut().find(|(n, _)| *n == k) {
                Some(slot) => slot.1 = v,
                None => members.push((k, v)),
            }
        }
        Ok(Json::Obj(members))
    }
}

/// PHP 8's `(string)` of a float: `precision` = 14 significant digits, `%G`-style (scientific
/// below 1e-4 or from 1e15 on, mantissa with at least one decimal: `1.0E+25`), `-0` kept.
pub(super) fn php_float(f: f64) -> String {
    if f.is_nan() {
        return "NAN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "INF" } else { "-INF" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.13e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..14).contains(&exp) {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{}.{rest}E{esign}{}", &digits[..1], exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// Most values accepted in one body (twice [`MAX_ELEMENTS`]: a JSON field is a name and a
/// value where XML has one element).
const MAX_VALUES: usize = 2 * MAX_ELEMENTS;

/// Why a JSON body was refused (the `<reason>` of `JSON error : <reason>`).
type Reason = String;

/// Counts the values a body can hold at most (one per `[`, `{`, `,` and `:` outside strings,
/// plus one) without decoding it, so a huge document of tiny values is refused before any
/// memory is spent on it.
fn too_many_values(text: &str) -> bool {
    let mut count = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' | b',' | b':' => {
                count += 1;
                if count > MAX_VALUES {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// Parses a JSON body into its entities; see the module documentation.
pub fn parse(body: &[u8], res: &ResourceDef) -> Result<Vec<EntityInput>, ApiError> {
    entities(body, res).map_err(|reason| ApiError::json_refused(body, &reason))
}

fn entities(body: &[u8], res: &ResourceDef) -> Result<Vec<EntityInput>, Reason> {
    let text = std::str::from_utf8(body).map_err(|e| {
        format!(
            "Invalid UTF-8 at byte offset {}: the body must be UTF-8",
            e.valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if too_many_values(text) {
        return Err(format!("More than {MAX_VALUES} values in one body"));
    }
    let root: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Json::Obj(members) = root else {
        return Err("the document must be an object such as {\"customer_thread\":{...}}".into());
    };
    let mut out = Vec::new();
    for (name, value) in members {
        match value {
            Json::Obj(fields) => out.push(entity(&name, fields)?),
            Json::Arr(items) if items.is_empty() => {
                if name != res.name {
                    out.push(EntityInput {
                        element: name,
                        ..EntityInput::default()
                    });
                }
            }
            Json::Arr(items) => {
                for item in items {
                    match item {
                        Json::Obj(fields) => out.push(entity(&name, fields)?),
                        Json::Arr(inner) if inner.is_empty() => out.push(EntityInput {
                            element: name.clone(),
                            ..EntityInput::default()
                        }),
                        _ => {
                            return Err(format!(
                                "every item of \"{name}\" must be an object (an entity)"
                            ))
                        }
                    }
                }
            }
            _ => {
                return Err(format!(
                    "\"{name}\" must be an object (an entity) or an array of objects"
                ))
            }
        }
    }
    Ok(out)
}

fn entity(name: &str, members: Vec<(String, Json)>) -> Result<EntityInput, Reason> {
    let mut e = EntityInput {
        element: name.to_owned(),
        ..EntityInput::default()
    };
    for (field, value) in members {
        if field == "associations" {
            match value {
                Json::Obj(assocs) => e.associations = assocs.into_iter().map(|(n, _)| n).collect(),
                Json::Arr(items) if items.is_empty() => {}
                _ => return Err("\"associations\" must be an object".into()),
            }
            continue;
        }
        let text = match value {
            Json::Str(s) => s,
            Json::Num(n) => n,
            Json::Bool(true) => "1".into(),
            Json::Bool(false) | Json::Null => String::new(),
            Json::Arr(_) | Json::Obj(_) => {
                return Err(format!(
                    "the value of \"{field}\" must be a string, a number, true, false or null"
                ))
            }
        };
        if let Some(c) = text.chars().find(|&c| !super::parse::is_xml_char(c)) {
            return Err(format!(
                "the value of \"{field}\" holds U+{:04X}, a character XML 1.0 does not allow",
                u32::from(c)
            ));
        }
        e.fields.push((field, text));
    }
    Ok(e)
}

/// Whether a request body is JSON: `Content-Type: application/json` (unless the body is
/// plainly XML: it starts with `<` or `xml=` once a byte order mark and white space are
/// skipped, which PrestaShop would parse), or, when the request's format is JSON
/// (`io_format=JSON`, `Io-Format: JSON`, ...), a body whose first character is `{`.
pub fn is_json(content_type: Option<&[u8]>, json_format: bool, body: &[u8]) -> bool {
    let start = body.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(body);
    let start = start.trim_ascii_start();
    let declared = content_type.is_some_and(|ct| {
        let media = ct.split(|&b| b == b';').next().unwrap_or_default();
        media.trim_ascii().eq_ignore_ascii_case(b"application/json")
    });
    if declared {
        return !(start.starts_with(b"<") || start.starts_with(b"xml="));
    }
    json_format && start.starts_with(b"{")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::customer_messages::CUSTOMER_MESSAGES;
    use crate::resource::customer_threads::CUSTOMER_THREADS;

    fn threads(body: &str) -> Vec<EntityInput> {
        parse(body.as_bytes(), &CUSTOMER_THREADS).expect("body parses")
    }

    fn fields(e: &EntityInput) -> Vec<(&str, &str)> {
        e.fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    fn refusal(body: &str) -> (u16, u32, String) {
        let e = parse(body.as_bytes(), &CUSTOMER_THREADS).expect_err("body is refused");
        assert_eq!(e.errors.len(), 1);
        (e.status, e.errors[0].code, e.errors[0].message.clone())
    }

    fn refused(body: &str, reason: &str) -> (u16, u32, String) {
        (
            500,
            127,
            format!(
                "JSON error : {reason}\nJSON length : {}\nOriginal JSON : {body}",
                body.len()
            ),
        )
    }

    #[test]
    fn the_single_entity_shape_gives_one_entity_in_member_order() {
        let e = threads(
            r#"{"customer_thread":{"id_lang":"1","email":"a@b.c","associations":{"customer_messages":[{"id":"1"}]},"status":"open"}}"#,
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].element, "customer_thread");
        assert_eq!(
            fields(&e[0]),
            [("id_lang", "1"), ("email", "a@b.c"), ("status", "open")]
        );
        assert_eq!(e[0].associations, ["customer_messages"]);
    }

    #[test]
    fn the_list_shape_gives_one_entity_per_item() {
        let e =
            threads(r#"{"customer_threads":[{"id":1,"email":"a@b.c"},{"id":"2","token":null}]}"#);
        assert_eq!(e.len(), 2);
        assert_eq!(fields(&e[0]), [("id", "1"), ("email", "a@b.c")]);
        assert_eq!(fields(&e[1]), [("id", "2"), ("token", "")]);
        assert!(threads(r#"{"customer_threads":[]}"#).is_empty());
    }

    #[test]
    fn an_empty_array_entity_is_an_entity_without_fields() {
        let e = parse(br#"{"customer_message":[]}"#, &CUSTOMER_MESSAGES).unwrap();
        assert_eq!(e.len(), 1);
        assert!(e[0].fields.is_empty() && e[0].associations.is_empty());
        let e = threads(r#"{"customer_thread":{"associations":[]}}"#);
        assert!(e[0].fields.is_empty() && e[0].associations.is_empty());
    }

    #[test]
    fn scalars_become_the_strings_php_casts_them_to() {
        let e = threads(
            r#"{"customer_thread":{"a":5,"b":-3,"c":1.5,"d":1.0,"e":1e3,"f":true,"g":false,"h":null,"i":0.1,"j":1e15,"k":99999999999999999999,"l":1.5e-7,"m":123456789.123456789,"n":-0.0}}"#,
        );
        assert_eq!(
            fields(&e[0]),
            [
                ("a", "5"),
                ("b", "-3"),
                ("c", "1.5"),
                ("d", "1"),
                ("e", "1000"),
                ("f", "1"),
                ("g", ""),
                ("h", ""),
                ("i", "0.1"),
                ("j", "1.0E+15"),
                ("k", "1.0E+20"),
                ("l", "1.5E-7"),
                ("m", "123456789.12346"),
                ("n", "-0"),
            ]
        );
    }

    #[test]
    fn php_float_strings() {
        for (f, s) in [
            (100000000000000.0, "1.0E+14"),
            (10000000000000.0, "10000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1.0E-5"),
            (-2.5, "-2.5"),
            (-0.0, "-0"),
            (1.0 / 3.0, "0.33333333333333"),
        ] {
            assert_eq!(php_float(f), s, "{f}");
        }
    }

    #[test]
    fn a_repeated_member_keeps_its_first_place_and_last_value() {
        let e = threads(r#"{"customer_thread":{"email":"a@b.c","status":"open","email":"x@y.z"}}"#);
        assert_eq!(fields(&e[0]), [("email", "x@y.z"), ("status", "open")]);
    }

    #[test]
    fn strings_are_unescaped_and_kept_untrimmed() {
        let e = threads(r#"{"customer_thread":{"message":" a\/b\n\u00e9\r\n "}}"#);
        assert_eq!(fields(&e[0]), [("message", " a/b\né\r\n ")]);
    }

    #[test]
    fn malformed_json_is_code_127_with_the_parser_reason() {
        assert_eq!(
            refusal(r#"{"customer_thread":{"email":}}"#),
            refused(
                r#"{"customer_thread":{"email":}}"#,
                "expected value at line 1 column 29"
            )
        );
        assert_eq!(
            refusal("{"),
            refused("{", "EOF while parsing an object at line 1 column 1")
        );
        assert_eq!(
            refusal(r#"{"a":{}} x"#),
            refused(r#"{"a":{}} x"#, "trailing characters at line 1 column 10")
        );
    }

    #[test]
    fn shapes_that_are_not_entities_are_refused() {
        let root = "the document must be an object such as {\"customer_thread\":{...}}";
        assert_eq!(refusal("[1]"), refused("[1]", root));
        assert_eq!(refusal("\"x\""), refused("\"x\"", root));
        let b = r#"{"customer_thread":"x"}"#;
        assert_eq!(
            refusal(b),
            refused(
                b,
                "\"customer_thread\" must be an object (an entity) or an array of objects"
            )
        );
        let b = r#"{"customer_threads":[{},1]}"#;
        assert_eq!(
            refusal(b),
            refused(
                b,
                "every item of \"customer_threads\" must be an object (an entity)"
            )
        );
        let b = r#"{"customer_thread":{"email":["a"]}}"#;
        assert_eq!(
            refusal(b),
            refused(
                b,
                "the value of \"email\" must be a string, a number, true, false or null"
            )
        );
        let b = r#"{"customer_thread":{"associations":"x"}}"#;
        assert_eq!(refusal(b), refused(b, "\"associations\" must be an object"));
    }

    #[test]
    fn characters_xml_refuses_are_refused() {
        let b = r#"{"customer_thread":{"email":"a\u0000b"}}"#;
        assert_eq!(
            refusal(b),
            refused(
                b,
                "the value of \"email\" holds U+0000, a character XML 1.0 does not allow"
            )
        );
        let b = r#"{"customer_thread":{"email":"a\uffffb"}}"#;
        assert_eq!(
            refusal(b),
            refused(
                b,
                "the value of \"email\" holds U+FFFF, a character XML 1.0 does not allow"
            )
        );
    }

    #[test]
    fn bodies_that_are_not_utf8_or_too_big_are_refused_before_decoding() {
        let e = parse(b"{\"a\":\"\xff\"}", &CUSTOMER_THREADS).unwrap_err();
        assert!(e.errors[0]
            .message
            .starts_with("JSON error : Invalid UTF-8 at byte offset 6: the body must be UTF-8\n"));
        let mut big = String::from("{\"customer_threads\":[");
        for _ in 0..MAX_ELEMENTS {
            big.push_str("{},");
        }
        big.push_str("{}]}");
        let e = parse(big.as_bytes(), &CUSTOMER_THREADS).unwrap_err();
        assert!(e.errors[0]
            .message
            .starts_with("JSON error : More than 200000 values in one body\n"));
        // A byte order mark is skipped.
        assert_eq!(
            parse(
                "\u{FEFF}{\"customer_thread\":{}}".as_bytes(),
                &CUSTOMER_THREADS
            )
            .unwrap()
            .len(),
            1
        );
    }

    #[test]
    fn json_is_chosen_by_content_type_or_by_the_json_format_with_a_brace() {
        let ct = Some(b"application/json; charset=utf-8".as_slice());
        assert!(is_json(ct, false, b"{}"));
        assert!(is_json(Some(b"Application/JSON"), false, b"[1]"));
        assert!(is_json(ct, false, b""));
        // An XML body stays XML whatever the header says.
        assert!(!is_json(ct, false, b"  <prestashop/>"));
        assert!(!is_json(ct, false, b"xml=<prestashop/>"));
        assert!(is_json(None, true, b"\r\n {\"a\":{}}"));
        assert!(!is_json(None, true, b"<prestashop/>"));
        assert!(!is_json(None, false, b"{}"));
        assert!(!is_json(Some(b"text/xml"), false, b"{}"));
    }
}
