//! Typed reads from a spanned TOML document. Every problem becomes a [`Diagnostic`] pointing at
//! the offending key or value; reading continues so one run reports all problems at once.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, did_you_mean};

pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// Collects diagnostics while a document is read.
#[derive(Default)]
pub(crate) struct Diagnostics(pub(crate) Vec<Diagnostic>);

impl Diagnostics {
    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    fn type_error(&mut self, value: &Value<'_>, key: &str, expected: &str) {
        self.push(Diagnostic::new(
            value.span(),
            format!(
                "`{key}` must be {expected}, found {}",
                article(value.get_ref().type_str())
            ),
        ));
    }
}

fn article(type_str: &str) -> String {
    match type_str.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {type_str}"),
        _ => format!("a {type_str}"),
    }
}

/// A table being read, with the keys it allows.
pub(crate) struct Table<'a, 'i> {
    pub(crate) table: &'a DeTable<'i>,
    pub(crate) span: Range<usize>,
    /// How the table is named in messages, e.g. "[tiers.fast]".
    pub(crate) name: String,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn new(table: &'a DeTable<'i>, span: Range<usize>, name: impl Into<String>) -> Self {
        Self {
            table,
            span,
            name: name.into(),
        }
    }

    /// Reports every key not in `allowed`, with a suggestion when one is close.
    pub(crate) fn deny_unknown(&self, allowed: &[&str], diags: &mut Diagnostics) {
        for (key, _) in self.table.iter() {
            let k = key.get_ref().as_ref();
            if allowed.contains(&k) {
                continue;
            }
            let mut d = Diagnostic::new(key.span(), format!("unknown key `{k}` in {}", self.name));
            if let Some(s) = did_you_mean(k, allowed.iter().copied()) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            diags.push(d.note(format!("allowed keys: {}", allowed.join(", "))));
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table.get(key)
    }

    pub(crate) fn string(&self, key: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Spanned::new(value.span(), s.to_string())),
            _ => {
                diags.type_error(value, key, "a string");
                None
            }
        }
    }

    pub(crate) fn bool(&self, key: &str, diags: &mut Diagnostics) -> Option<bool> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                diags.type_error(value, key, "true or false");
                None
            }
        }
    }

    /// A whole number in `range`.
    pub(crate) fn integer(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        diags: &mut Diagnostics,
    ) -> Option<i64> {
        let value = self.get(key)?;
        integer_value(value, key, range, diags)
    }

    pub(crate) fn percent(&self, key: &str, diags: &mut Diagnostics) -> Option<f64> {
        let value = self.get(key)?;
        match number(value) {
            Some(n) if (0.0..=100.0).contains(&n) => Some(n),
            Some(n) => {
                diags.push(Diagnostic::new(
                    value.span(),
                    format!("`{key}` must be a percentage from 0 to 100, found {n}"),
                ));
                None
            }
            None => {
                diags.type_error(value, key, "a number from 0 to 100");
                None
            }
        }
    }

    /// A fraction from 0 to 1 (a rate); a percentage-looking value gets a hint.
    pub(crate) fn fraction(&self, key: &str, diags: &mut Diagnostics) -> Option<f64> {
        let value = self.get(key)?;
        match number(value) {
            Some(n) if (0.0..=1.0).contains(&n) => Some(n),
            Some(n) => {
                let mut d = Diagnostic::new(
                    value.span(),
                    format!("`{key}` must be a fraction from 0 to 1, found {n}"),
                );
                if (1.0..=100.0).contains(&n) {
                    d = d.help(format!("for {n}% write {key} = {}", n / 100.0));
                }
                diags.push(d);
                None
            }
            None => {
                diags.type_error(value, key, "a number from 0 to 1");
                None
            }
        }
    }

    pub(crate) fn duration(&self, key: &str, diags: &mut Diagnostics) -> Option<Duration> {
        let value = self.get(key)?;
        duration_value(value, key, diags)
    }

    pub(crate) fn string_list(&self, key: &str, diags: &mut Diagnostics) -> Option<Vec<Spanned<String>>> {
        let value = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            diags.type_error(value, key, "a list of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => diags.type_error(item, key, "a list of strings"),
            }
        }
        Some(out)
    }

    pub(crate) fn table(&self, key: &str, name: String, diags: &mut Diagnostics) -> Option<Table<'a, 'i>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, value.span(), name)),
            _ => {
                diags.type_error(value, key, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[key]]`), each with its index.
    pub(crate) fn table_list(&self, key: &str, diags: &mut Diagnostics) -> Vec<Table<'a, 'i>> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            diags.type_error(value, key, "a list of tables");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(t) => out.push(Table::new(t, item.span(), format!("{key}[{i}]"))),
                _ => diags.type_error(item, key, "a list of tables"),
            }
        }
        out
    }
}

/// An integer or float value as a number.
fn number(value: &Value<'_>) -> Option<f64> {
    match value.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok().map(|v| v as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
        _ => None,
    }
}

pub(crate) fn integer_value(
    value: &Value<'_>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
    diags: &mut Diagnostics,
) -> Option<i64> {
    let DeValue::Integer(i) = value.get_ref() else {
        diags.type_error(value, key, "a whole number");
        return None;
    };
    match i64::from_str_radix(i.as_str(), i.radix()) {
        Ok(n) if range.contains(&n) => Some(n),
        _ => {
            diags.push(Diagnostic::new(
                value.span(),
                format!(
                    "`{key}` must be a whole number from {} to {}, found {}",
                    range.start(),
                    range.end(),
                    i.as_str()
                ),
            ));
            None
        }
    }
}

pub(crate) fn duration_value(value: &Value<'_>, key: &str, diags: &mut Diagnostics) -> Option<Duration> {
    let DeValue::String(s) = value.get_ref() else {
        diags.push(
            Diagnostic::new(
                value.span(),
                format!(
                    "`{key}` must be a duration string, found {}",
                    article(value.get_ref().type_str())
                ),
            )
            .help(r#"write durations with a unit, like "90s", "5m" or "1h 30m""#),
        );
        return None;
    };
    match parse_duration(s) {
        Ok(d) => Some(d),
        Err(why) => {
            diags.push(
                Diagnostic::new(value.span(), format!("invalid duration `{s}` for `{key}`: {why}"))
                    .help(r#"write durations with a unit, like "90s", "5m" or "1h 30m""#),
            );
            None
        }
    }
}

/// The longest duration any setting takes: a week. Longer is a typo (a month for a minute).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// `"90s"`, `"5m"`, `"1h 30m"`, `"250ms"`: whole numbers with a unit among `ms`, `s`, `m`, `h`,
/// `d` (or their spelled-out forms, in lower case). Units that mean something else to somebody
/// (`M` is a month to humantime, a minute to others), smaller than a millisecond or longer than
/// a day, and totals over [`MAX_DURATION`] are refused.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("it is empty".into());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| "the number is too large".to_string())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let scale = match unit {
            "ms" | "msec" | "millis" => Duration::from_millis(1),
            "s" | "sec" | "secs" | "second" | "seconds" => Duration::from_secs(1),
            "m" | "min" | "mins" | "minute" | "minutes" => Duration::from_secs(60),
            "h" | "hr" | "hrs" | "hour" | "hours" => Duration::from_secs(3600),
            "d" | "day" | "days" => Duration::from_secs(24 * 3600),
            "" => return Err(format!("`{number}` has no unit")),
            other if other.chars().any(char::is_uppercase) => {
                return Err(format!(
                    "`{other}` is ambiguous (`M` is a month to some, a minute to others); units are lower case: ms, s, m, h, d"
                ));
            }
            other => return Err(format!("unknown unit `{other}`; use ms, s, m, h or d")),
        };
        let part = u32::try_from(number)
            .ok()
            .and_then(|n| scale.checked_mul(n))
            .ok_or_else(|| "it is far too long".to_string())?;
        total = total
            .checked_add(part)
            .ok_or_else(|| "it is far too long".to_string())?;
    }
    if total > MAX_DURATION {
        return Err("it is longer than a week (7d), the longest any setting takes".to_string());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_lower_case_units_and_a_sane_size() {
        let ok = |t: &str| parse_duration(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(ok("90s"), Duration::from_secs(90));
        assert_eq!(ok("1h 30m"), Duration::from_secs(5400));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1d2h"), Duration::from_secs(26 * 3600));
        assert_eq!(ok("7d"), MAX_DURATION);
        for bad in [
            "5M",
            "5Min",
            "1w",
            "2y",
            "10us",
            "",
            "s",
            "5",
            "8d",
            "1.5h",
            "-1s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("5M").unwrap_err().contains("ambiguous"));
    }
}
