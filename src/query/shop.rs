//! `id_shop`, `id_shop_group`/`id_group_shop` and `language` parameters
//! (docs/prestashop/requests.md, W26).
//!
//! Follows `WebserviceRequest::groupShopExists`, `shopExists` and `filterLanguage`
//! (PrestaShop 8). Existence checks that need the database (a group without shops, the key's
//! shops) are the caller's; this module only reads the parameters.

use super::list::{php_numeric, Num};
use super::{Param, Params};
use crate::error::ApiError;

/// Which shops the request's context covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopSelector {
    /// No shop parameter: the shop the request's host resolves to (the default shop).
    Default,
    /// `id_shop=N`: that shop, with no existence check.
    Shop(u32),
    /// `id_shop=all`: every active shop.
    All,
    /// `id_shop_group=N` (or `id_group_shop`): the group's active shops.
    Group(u32),
}

/// Reads the shop parameters. `id_shop` neither numeric nor `all` is 404 code 999.
///
/// A numeric group wins over `id_shop` entirely: `groupShopExists` runs first and fills
/// `WebserviceRequest::$shopIDs` with the group's shops, and `shopExists` returns early when
/// that list is not empty, so `id_shop` is not even validated (`id_shop=abc&id_shop_group=1` is
/// the group). A group without active shops fails before (500 code 999, the caller's check).
///
/// Values are PHP numeric strings cast with `(int)` (`" 2"`, `"2.7"`, `"2e0"` are shop 2). A
/// value outside `u32` (negative, huge) names no shop or group, like id 0.
pub fn parse_shop_selector(params: &Params) -> Result<ShopSelector, ApiError> {
    let numeric = |key: &str| match params.get(key) {
        Some(Param::Str(s)) => php_numeric(s).map(|n| to_id(n.to_int())),
        _ => None,
    };
    // A non-numeric `id_shop_group` is ignored, so `id_group_shop` can still apply.
    if let Some(group) = numeric("id_shop_group").or_else(|| numeric("id_group_shop")) {
        return Ok(ShopSelector::Group(group));
    }
    match params.get("id_shop") {
        None => Ok(ShopSelector::Default),
        Some(Param::Str(s)) if s == "all" => Ok(ShopSelector::All),
        Some(Param::Str(s)) => match php_numeric(s) {
            Some(n) => Ok(ShopSelector::Shop(to_id(n.to_int()))),
            None => Err(ApiError::unknown_shop_id()),
        },
        Some(Param::Map(_)) => Err(ApiError::unknown_shop_id()),
    }
}

fn to_id(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// Validates `language` against the shop's language ids (codes 78–81).
///
/// Shapes (`filterLanguage`): a numeric value; `[a|b]` (a list); `[a,b]` (an inclusive range);
/// `[N]`. The bracketed forms need a leading `[` and the first `]` as the last character, and
/// exactly one of `|` and `,`. With neither (or both), PrestaShop looks for `[digits]` anywhere
/// and keeps only the LAST digit of it (`#\[(\d)+\]#` captures one digit): `[12]` is language
/// 2, and `[abc]` or `[1|2,3]` select nothing (code 81 alone). Anything else is 79.
///
/// Any non-numeric member of a list or range is 80 (docs/prestashop/requests.md#language).
/// PrestaShop itself misses it when the first bad member is at index 0 (`array_search` returns 0),
/// and loops forever on a range like `[1,a]`; the documented rule is kept instead.
pub fn validate_language(params: &Params, known: &[u32]) -> Result<(), ApiError> {
    let Some(value) = params.get("language") else {
        return Ok(());
    };
    let selected = match value {
        Param::Str(v) => select_languages(v, known),
        // PHP 8 dies on strlen(array); treated as a wrong value.
        Param::Map(_) => Err(ApiError::language_value()),
    };
    let (status, code, message) = ApiError::LANGUAGE_NOT_AVAILABLE;
    match selected {
        Ok(ids) if !ids.is_empty() => Ok(()),
        Ok(_) => Err(ApiError::new(status, code, message)),
        Err(e) => Err(e.and(status, code, message)),
    }
}

/// The known language ids the value selects, or error 78, 79 or 80.
fn select_languages(value: &str, known: &[u32]) -> Result<Vec<u32>, ApiError> {
    let is_known = |id: i64| u32::try_from(id).is_ok_and(|id| known.contains(&id));
    if let Some(n) = php_numeric(value) {
        return Ok(known_ids(&[n.to_int()], known));
    }
    let bracketed = value.starts_with('[') && value.find(']') == Some(value.len() - 1);
    if !bracketed {
        return Err(ApiError::language_value());
    }
    let has_pipe = value.contains('|');
    let has_comma = value.contains(',');
    let members = value.replace(['[', ']'], "");
    if has_pipe && !has_comma {
        let ids = members
            .split('|')
            .map(|m| php_numeric(m).map(Num::to_int))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(ApiError::language_not_numeric)?;
        return Ok(known_ids(&ids, known));
    }
    if has_comma && !has_pipe {
        let ends: Vec<&str> = members.split(',').collect();
        let [lo, hi] = ends[..] else {
            return Err(ApiError::language_range());
        };
        let (Some(lo), Some(hi)) = (php_numeric(lo), php_numeric(hi)) else {
            return Err(ApiError::language_not_numeric());
        };
        // PrestaShop counts from `lo` up to `hi` by 1 and casts each step with `(int)`; only
        // steps that can hit a known id are walked.
        let (lo, hi) = (lo.as_f64(), hi.as_f64());
        let mut ids = Vec::new();
        if let (Some(&min), Some(&max)) = (known.iter().min(), known.iter().max()) {
            let skip = ((f64::from(min) - 1.0) - lo).floor().max(0.0);
            let mut step = lo + skip;
            while step <= hi && step <= f64::from(max) + 1.0 {
                let id = step as i64;
                if is_known(id) && !ids.contains(&id) {
                    ids.push(id);
                }
                step += 1.0;
            }
        }
        return Ok(known_ids(&ids, known));
    }
    // Neither or both separators: `preg_match('#\[(\d)+\]#Ui')`. The only `]` is the last
    // character, so the match is `[` + digits + that `]`; the group holds the last digit.
    let body = &value[..value.len() - 1];
    let digits = body.len() - body.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits > 0 && body[..body.len() - digits].ends_with('[') {
        let last = i64::from(body.as_bytes()[body.len() - 1] - b'0');
        return Ok(known_ids(&[last], known));
    }
    Ok(Vec::new())
}

fn known_ids(ids: &[i64], known: &[u32]) -> Vec<u32> {
    ids.iter()
        .filter_map(|&id| u32::try_from(id).ok())
        .filter(|id| known.contains(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorEntry;

    fn shop(query: &str) -> Result<ShopSelector, ApiError> {
        parse_shop_selector(&Params::parse(query))
    }

    fn lang(query: &str) -> Result<(), Vec<(u32, String)>> {
        validate_language(&Params::parse(query), &[1, 2, 3]).map_err(|e| {
            assert_eq!(e.status, 400);
            e.errors
                .iter()
                .map(|ErrorEntry { code, message }| (*code, message.clone()))
                .collect()
        })
    }

    fn codes(errors: &[(u32, &str)]) -> Vec<(u32, String)> {
        errors.iter().map(|(c, m)| (*c, (*m).to_owned())).collect()
    }

    const NOT_AVAILABLE: (u32, &str) = (81, "language is not available");

    #[test]
    fn no_shop_parameter_is_the_default_shop() {
        assert_eq!(shop("ws_key=x"), Ok(ShopSelector::Default));
    }

    #[test]
    fn numeric_id_shop_is_that_shop() {
        assert_eq!(shop("id_shop=2"), Ok(ShopSelector::Shop(2)));
        assert_eq!(shop("id_shop=%202.7"), Ok(ShopSelector::Shop(2)));
        assert_eq!(shop("id_shop=2e1"), Ok(ShopSelector::Shop(20)));
        assert_eq!(shop("id_shop=-1"), Ok(ShopSelector::Shop(0)));
    }

    #[test]
    fn id_shop_all_is_every_shop() {
        assert_eq!(shop("id_shop=all"), Ok(ShopSelector::All));
    }

    #[test]
    fn other_id_shop_values_return_404_code_999() {
        for query in [
            "id_shop=abc",
            "id_shop=",
            "id_shop=ALL",
            "id_shop=2x",
            "id_shop[]=1",
        ] {
            let e = shop(query).expect_err(query);
            assert_eq!(e.status, 404, "{query}");
            assert_eq!(
                e.errors,
                vec![ErrorEntry {
                    code: 999,
                    message: "This shop id does not exist".into()
                }],
                "{query}"
            );
        }
    }

    #[test]
    fn id_shop_group_wins_over_id_group_shop() {
        assert_eq!(
            shop("id_group_shop=3&id_shop_group=4"),
            Ok(ShopSelector::Group(4))
        );
        assert_eq!(shop("id_group_shop=3"), Ok(ShopSelector::Group(3)));
    }

    #[test]
    fn a_non_numeric_group_is_ignored() {
        assert_eq!(shop("id_shop_group=x"), Ok(ShopSelector::Default));
        assert_eq!(
            shop("id_shop_group=x&id_group_shop=3"),
            Ok(ShopSelector::Group(3))
        );
        assert_eq!(shop("id_shop_group=x&id_shop=2"), Ok(ShopSelector::Shop(2)));
    }

    #[test]
    fn a_numeric_group_makes_id_shop_ignored_even_when_invalid() {
        assert_eq!(
            shop("id_shop=abc&id_shop_group=1"),
            Ok(ShopSelector::Group(1))
        );
        assert_eq!(
            shop("id_shop=2&id_shop_group=1"),
            Ok(ShopSelector::Group(1))
        );
    }

    #[test]
    fn an_absent_language_is_valid() {
        assert_eq!(lang("ws_key=x"), Ok(()));
    }

    #[test]
    fn known_languages_in_every_shape_are_valid() {
        for query in [
            "language=1",
            "language=%202",
            "language=[1|9]",
            "language=[9|3]",
            "language=[1,2]",
            "language=[0,1]",
            "language=[2]",
            "language=[12]",
            "language=[[3]",
        ] {
            assert_eq!(lang(query), Ok(()), "{query}");
        }
    }

    #[test]
    fn unknown_languages_alone_return_code_81() {
        for query in [
            "language=9",
            "language=[7|8]",
            "language=[4,9]",
            "language=[3,1]",
            "language=[]",
            "language=[abc]",
            "language=[1|2,3]",
            "language=[19]",
        ] {
            assert_eq!(lang(query), Err(codes(&[NOT_AVAILABLE])), "{query}");
        }
    }

    #[test]
    fn a_wrong_shape_returns_code_79_then_81() {
        for query in [
            "language=abc",
            "language=",
            "language=1]",
            "language=[1]x",
            "language=[1]]",
            "language=[1,]2]",
            "language[]=1",
        ] {
            assert_eq!(
                lang(query),
                Err(codes(&[(79, "language value is wrong"), NOT_AVAILABLE])),
                "{query}"
            );
        }
    }

    #[test]
    fn a_range_without_two_values_returns_code_78_then_81() {
        assert_eq!(
            lang("language=[1,2,3]"),
            Err(codes(&[
                (
                    78,
                    "A range value for a language must contains only 2 values"
                ),
                NOT_AVAILABLE,
            ]))
        );
    }

    #[test]
    fn non_numeric_members_return_code_80_then_81() {
        for query in [
            "language=[1|a]",
            "language=[a|1]",
            "language=[1|]",
            "language=[a,3]",
            "language=[1,b]",
        ] {
            assert_eq!(
                lang(query),
                Err(codes(&[(80, "Language ID must be numeric"), NOT_AVAILABLE])),
                "{query}"
            );
        }
    }

    #[test]
    fn a_huge_range_is_checked_without_walking_it() {
        assert_eq!(lang("language=[-99999999999,99999999999]"), Ok(()));
        assert_eq!(lang("language=[1.5,2]"), Ok(()));
    }
}
