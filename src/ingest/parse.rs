//! The XML reading behind [`super::parse`]: byte checks, then one pass of quick-xml's pull
//! reader with the well-formedness checks libxml2 makes and quick-xml leaves to its caller.

use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::EntityInput;
use crate::error::ApiError;

/// Deepest element nesting accepted: libxml2's `xmlParserMaxDepth` without `XML_PARSE_HUGE`,
/// so PrestaShop refuses the same documents. It also bounds the parser's own stack.
pub const MAX_DEPTH: usize = 256;

/// Most elements accepted in one body. PrestaShop has no such limit but runs out of PHP memory
/// long before a 20 MiB body of `<a/>` is parsed (a fatal error, not an error document); here
/// each element costs far more memory than its four bytes of XML, so the count is bounded.
/// A real body has one entity of about a dozen fields.
pub const MAX_ELEMENTS: usize = 100_000;

const DTD_REFUSED: &str = "Document type declarations (<!DOCTYPE ...>) are not accepted";

/// Why a body was refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Fail {
    /// What libxml2 would refuse too: SimpleXML's message.
    Malformed,
    /// Refused with a more precise reason.
    Refused(String),
}

impl Fail {
    pub(super) fn into_error(self, body: &[u8]) -> ApiError {
        match self {
            Fail::Malformed => ApiError::xml_error(body),
            Fail::Refused(reason) => ApiError::xml_refused(body, &reason),
        }
    }
}

impl From<XmlError> for Fail {
    fn from(e: XmlError) -> Fail {
        match e {
            // quick-xml reads a DOCTYPE to its end before reporting it; one that never ends
            // is still a DTD.
            XmlError::Syntax(SyntaxError::UnclosedDoctype) => Fail::Refused(DTD_REFUSED.into()),
            _ => Fail::Malformed,
        }
    }
}

/// NUL bytes, then UTF-8, then characters XML 1.0 does not allow (`Char`, XML 1.0 §2.2).
pub(super) fn check_bytes(xml: &[u8]) -> Result<&str, Fail> {
    if let Some(at) = xml.iter().position(|&b| b == 0) {
        return Err(Fail::Refused(format!(
            "NUL byte at offset {at}: NUL is not allowed in XML"
        )));
    }
    let text = std::str::from_utf8(xml).map_err(|e| {
        Fail::Refused(format!(
            "Invalid UTF-8 at byte offset {}: the body must be UTF-8",
            e.valid_up_to()
        ))
    })?;
    if !text.chars().all(is_xml_char) {
        return Err(Fail::Malformed);
    }
    Ok(text)
}

/// XML 1.0 `Char` (surrogates cannot occur in a `str`).
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML 1.0 `Name` (§2.3).
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn utf8(bytes: &[u8]) -> Result<&str, Fail> {
    std::str::from_utf8(bytes).map_err(|_| Fail::Malformed)
}

/// What an open element is to SimpleXML's view of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Root,
    Entity,
    /// A field of the last entity: index into its `fields`.
    Field(usize),
    /// The entity's first `<associations>`.
    Associations,
    /// Anything whose text nobody reads.
    Other,
}

struct Doc {
    entities: Vec<EntityInput>,
    /// Open elements, outermost first.
    stack: Vec<Frame>,
    /// Namespace prefixes declared on each open element (`xmlns:p`), parallel to `stack`.
    prefixes: Vec<Vec<String>>,
    /// The current entity already has its `<associations>`: later ones are ignored.
    associations_seen: bool,
    root_seen: bool,
    root_closed: bool,
    elements: usize,
}

impl Doc {
    /// An element in a namespace bound to a prefix is not a child SimpleXML's unqualified
    /// `children()` and `->name` see (php-src simplexml.c `match_ns`). `xml:` is always bound.
    fn invisible(&self, name: &str) -> bool {
        match name.split_once(':') {
            Some((prefix, _)) if !prefix.is_empty() => {
                prefix == "xml" || self.prefixes.iter().flatten().any(|p| p == prefix)
            }
            _ => false,
        }
    }

    fn start(&mut self, e: &BytesStart<'_>) -> Result<(), Fail> {
        let name = utf8(e.name().into_inner())?;
        if !is_name(name) || self.root_closed || self.stack.len() >= MAX_DEPTH {
            return Err(Fail::Malformed);
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(Fail::Refused(format!(
                "More than {MAX_ELEMENTS} elements in one body"
            )));
        }
        let declared = attributes(e)?;
        self.prefixes.push(declared);
        let frame = match self.stack.last() {
            None => {
                self.root_seen = true;
                Frame::Root
            }
            Some(Frame::Root) if !self.invisible(name) => {
                self.entities.push(EntityInput {
                    element: name.to_owned(),
                    ..EntityInput::default()
                });
                self.associations_seen = false;
                Frame::Entity
            }
            Some(Frame::Entity) if !self.invisible(name) => {
                if name == "associations" {
                    if self.associations_seen {
                        Frame::Other
                    } else {
                        self.associations_seen = true;
                        Frame::Associations
                    }
                } else {
                    let fields = &mut self.current().fields;
                    fields.push((name.to_owned(), String::new()));
                    Frame::Field(fields.len() - 1)
                }
            }
            Some(Frame::Associations) if !self.invisible(name) => {
                self.current().associations.push(name.to_owned());
                Frame::Other
            }
            _ => Frame::Other,
        };
        self.stack.push(frame);
        Ok(())
    }

    fn end(&mut self) {
        self.stack.pop();
        self.prefixes.pop();
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    fn current(&mut self) -> &mut EntityInput {
        self.entities
            .last_mut()
            .expect("a field is only opened inside an entity")
    }

    /// Character data: outside the root only white space is allowed; inside, only a field's
    /// own text is kept.
    fn text(&mut self, s: &str) -> Result<(), Fail> {
        match self.stack.last() {
            None if s.chars().all(is_xml_space) => Ok(()),
            None => Err(Fail::Malformed),
            Some(&Frame::Field(i)) => {
                self.current().fields[i].1.push_str(s);
                Ok(())
            }
            Some(_) => Ok(()),
        }
    }
}

/// Checks a start tag's attributes as libxml2 would (well-formed, unique, values without `<`
/// and with known references only), ignores their values (docs/prestashop/writes.md#body), and
/// returns the namespace prefixes the tag declares.
fn attributes(e: &BytesStart<'_>) -> Result<Vec<String>, Fail> {
    let mut declared = Vec::new();
    for attr in e.attributes().with_checks(true) {
        let attr = attr.map_err(|_| Fail::Malformed)?;
        let key = utf8(attr.key.as_ref())?;
        if !is_name(key) || attr.value.contains(&b'<') {
            return Err(Fail::Malformed);
        }
        let value = attr.unescape_value().map_err(|_| Fail::Malformed)?;
        if !value.chars().all(is_xml_char) {
            return Err(Fail::Malformed);
        }
        if let Some(prefix) = key.strip_prefix("xmlns:") {
            declared.push(prefix.to_owned());
        }
    }
    Ok(declared)
}

/// The five predefined entities and character references; anything else is undefined (no DTD
/// can define it) and so a parse error, as in libxml2.
fn reference(name: &str) -> Result<char, Fail> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16),
            None if num.bytes().all(|b| b.is_ascii_digit()) => num.parse::<u32>(),
            _ => return Err(Fail::Malformed),
        }
        .map_err(|_| Fail::Malformed)?;
        return char::from_u32(code)
            .filter(|&c| is_xml_char(c))
            .ok_or(Fail::Malformed);
    }
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => Err(Fail::Malformed),
    }
}

/// A reader that keeps text untrimmed and checks end names, comments and `&`.
fn strict_reader(xml: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = true;
    config.allow_dangling_amp = false;
    config.allow_unmatched_ends = false;
    reader
}

/// Reads the document (a UTF-8 string of XML characters, byte order mark removed).
pub(super) fn entities(xml: &str) -> Result<Vec<EntityInput>, Fail> {
    let mut reader = strict_reader(xml);
    let mut doc = Doc {
        entities: Vec::new(),
        stack: Vec::new(),
        prefixes: Vec::new(),
        associations_seen: false,
        root_seen: false,
        root_closed: false,
        elements: 0,
    };
    let mut first = true;
    loop {
        let event = reader.read_event()?;
        match event {
            Event::Start(e) => doc.start(&e)?,
            Event::Empty(e) => {
                // Not produced with `expand_empty_elements`; handled the same way regardless.
                doc.start(&e)?;
                doc.end();
            }
            Event::End(_) => doc.end(),
            Event::Text(t) => {
                let raw = utf8(&t)?;
                if raw.contains("]]>") {
                    return Err(Fail::Malformed);
                }
                let content = t.xml10_content().map_err(|_| Fail::Malformed)?;
                doc.text(&content)?;
            }
            Event::CData(c) => {
                if doc.stack.is_empty() {
                    return Err(Fail::Malformed);
                }
                let content = c.xml10_content().map_err(|_| Fail::Malformed)?;
                doc.text(&content)?;
            }
            Event::GeneralRef(r) => {
                if doc.stack.is_empty() {
                    return Err(Fail::Malformed);
                }
                let c = reference(utf8(&r)?)?;
                doc.text(c.encode_utf8(&mut [0; 4]))?;
            }
            Event::Comment(c) => {
                // `--` inside is checked by quick-xml; XML also forbids a final `-` (`--->`).
                if c.ends_with(b"-") {
                    return Err(Fail::Malformed);
                }
            }
            Event::Decl(d) => {
                // Only at the very start, and with a version (libxml2: "XML declaration
                // allowed only at the start of the document").
                if !first || d.version().is_err() {
                    return Err(Fail::Malformed);
                }
            }
            Event::PI(pi) => {
                let target = utf8(pi.target())?;
                if !is_name(target) || target.eq_ignore_ascii_case("xml") {
                    return Err(Fail::Malformed);
                }
            }
            Event::DocType(_) => return Err(Fail::Refused(DTD_REFUSED.into())),
            Event::Eof => {
                if !doc.root_seen || !doc.stack.is_empty() {
                    return Err(Fail::Malformed);
                }
                return Ok(doc.entities);
            }
        }
        first = false;
    }
}
