//! Where a request's key comes from (docs/prestashop/authentication.md#where-the-key-comes-from,
//! docs/prestashop/authentication.md#outcomes; docs/clients/README.md#complaints).
//!
//! PrestaShop's dispatcher takes the Basic user name (`PHP_AUTH_USER`), else parses a raw
//! `HTTP_AUTHORIZATION` / `REDIRECT_HTTP_AUTHORIZATION` by hand (`Basic\s+(.*)$`, base64, the
//! part before the first `:`, tags stripped), else the `ws_key` parameter. Basic always wins.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use crate::php;

/// Lenient like PHP's `base64_decode` about padding.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The user name of a `Basic` authorization value, or `None` when the value is not Basic or
/// not decodable. Without a colon the whole decoded text is the user (the password is ignored).
pub fn basic_user(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = LENIENT.decode(rest.trim()).ok()?;
    let text = String::from_utf8_lossy(&decoded);
    let user = text.split(':').next().unwrap_or("");
    Some(php::strip_tags(user))
}

/// The request's key: the Basic user of `authorization`, else of the first forwarded header
/// that carries Basic credentials, else `ws_key`. `None` means no key at all (code 16).
pub fn find_key<'a>(
    authorization: Option<&[u8]>,
    forwarded: impl IntoIterator<Item = &'a [u8]>,
    ws_key: Option<&str>,
) -> Option<String> {
    authorization
        .and_then(basic_user)
        .or_else(|| forwarded.into_iter().find_map(basic_user))
        .or_else(|| ws_key.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "UCCLLQ9N2ARSHWCXLT74KUKSSK34BFKX";

    fn basic(s: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
        .into_bytes()
    }

    #[test]
    fn basic_works_with_and_without_the_colon() {
        assert_eq!(basic_user(&basic(&format!("{KEY}:"))).as_deref(), Some(KEY));
        assert_eq!(basic_user(&basic(KEY)).as_deref(), Some(KEY));
        assert_eq!(
            basic_user(&basic(&format!("{KEY}:ignored"))).as_deref(),
            Some(KEY)
        );
    }

    #[test]
    fn an_empty_basic_user_is_an_empty_key_not_a_missing_one() {
        assert_eq!(basic_user(b"Basic Og==").as_deref(), Some(""));
    }

    #[test]
    fn scheme_is_case_insensitive_and_padding_optional() {
        let v = basic(KEY);
        let lower = String::from_utf8(v).unwrap().replace("Basic", "bAsIc");
        assert_eq!(
            basic_user(lower.trim_end_matches('=').as_bytes()).as_deref(),
            Some(KEY)
        );
    }

    #[test]
    fn bearer_and_garbage_are_not_basic() {
        assert_eq!(basic_user(b"Bearer abc"), None);
        assert_eq!(basic_user(b"Basic !!!"), None);
        assert_eq!(basic_user(b"Basic"), None);
    }

    #[test]
    fn basic_wins_over_forwarded_and_ws_key() {
        let b = basic("A:");
        let f = basic("B:");
        assert_eq!(
            find_key(Some(&b), [f.as_slice()], Some("C")).as_deref(),
            Some("A")
        );
        assert_eq!(
            find_key(None, [f.as_slice()], Some("C")).as_deref(),
            Some("B")
        );
        assert_eq!(
            find_key(Some(b"Bearer x"), [], Some("C")).as_deref(),
            Some("C")
        );
        assert_eq!(find_key(None, [], None), None);
    }
}
