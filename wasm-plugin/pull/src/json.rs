//! A minimal JSON writer: the summary has a fixed shape, and serde would double the module.

use std::fmt::Write as _;
use std::string::String;

/// An object being written, field by field.
pub struct Json {
    out: String,
    first: bool,
}

impl Json {
    /// `{`.
    pub fn object() -> Self {
        Self {
            out: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        escape_into(&mut self.out, key);
        self.out.push(':');
    }

    /// `"key":"value"`.
    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        escape_into(&mut self.out, value);
    }

    /// `"key":null`.
    pub fn null(&mut self, key: &str) {
        self.key(key);
        self.out.push_str("null");
    }

    /// `"key":true|false`.
    pub fn boolean(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// `"key":123`.
    pub fn number(&mut self, key: &str, value: i64) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    /// `"key":["a","b"]`.
    pub fn strings<'a>(&mut self, key: &str, values: impl Iterator<Item = &'a str>) {
        self.key(key);
        self.out.push('[');
        for (index, value) in values.enumerate() {
            if index > 0 {
                self.out.push(',');
            }
            escape_into(&mut self.out, value);
        }
        self.out.push(']');
    }

    /// `"key":<already JSON>`.
    pub fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.out.push_str(json);
    }

    /// `}` and the text.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// `[a,b]` of already-JSON items.
pub fn array(items: &[String]) -> String {
    let mut out = String::from("[");
    out.push_str(&items.join(","));
    out.push(']');
    out
}

/// A JSON string literal.
fn escape_into(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_escape_and_nest() {
        let mut inner = Json::object();
        inner.number("n", -3);
        let mut json = Json::object();
        json.string("a\"b", "line\n\u{1}\\end é");
        json.null("z");
        json.boolean("t", true);
        json.strings("l", ["x", "y"].into_iter());
        json.raw("o", &inner.finish());
        json.raw("arr", &array(&["1".into(), "2".into()]));
        assert_eq!(
            json.finish(),
            r#"{"a\"b":"line\n\u0001\\end é","z":null,"t":true,"l":["x","y"],"o":{"n":-3},"arr":[1,2]}"#
        );
    }
}
