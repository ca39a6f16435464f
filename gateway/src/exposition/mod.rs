//! Merges Prometheus text expositions (format 0.0.4) into one valid exposition.
//!
//! The gateway's `/metrics` concatenates its own series with every service's. Plain concatenation
//! is invalid: a family's `# HELP`/`# TYPE` would repeat and its samples would be split across the
//! text. Here each family is written once, in first-seen order, with all its samples together.
//! Histogram and summary samples (`_bucket`, `_sum`, `_count`) stay under their family.
//!
//! A series (name + labels) appears once: when tests run several apps in one process they share
//! one recorder, so the same series comes back from several scrapes, possibly with values a few
//! increments apart; the first one seen is kept, since two samples of one series are invalid.
//! Lines that are not valid samples are dropped so one misbehaving upstream cannot poison the
//! whole scrape.

use std::collections::{HashMap, HashSet};

/// Suffixes a histogram or summary family adds to its name for its sub-series.
const SUB_SERIES_SUFFIXES: &[&str] = &["_bucket", "_sum", "_count", "_created"];

#[derive(Default)]
struct Family {
    help: Option<String>,
    type_line: Option<String>,
    kind: Option<String>,
    samples: Vec<String>,
    series: HashSet<String>,
}

/// Collects expositions, then [`Merger::render`]s them as one.
#[derive(Default)]
pub struct Merger {
    order: Vec<String>,
    families: HashMap<String, Family>,
}

impl Merger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, exposition: &str) {
        for line in exposition.lines().map(str::trim).filter(|line| !line.is_empty()) {
            match line.strip_prefix('#') {
                Some(comment) => self.add_comment(line, comment),
                None => self.add_sample(line),
            }
        }
    }

    fn add_comment(&mut self, line: &str, comment: &str) {
        let mut words = comment.split_whitespace();
        match (words.next(), words.next()) {
            (Some("HELP"), Some(name)) if is_metric_name(name) => {
                self.family(name).help.get_or_insert_with(|| line.to_owned());
            }
            (Some("TYPE"), Some(name)) if is_metric_name(name) => {
                let kind = words.next().unwrap_or("untyped").to_owned();
                let family = self.family(name);
                if family.type_line.is_none() {
                    family.type_line = Some(line.to_owned());
                    family.kind = Some(kind);
                }
            }
            // Other comments carry nothing a scraper needs.
            _ => {}
        }
    }

    fn add_sample(&mut self, line: &str) {
        let Some(key) = series_key(line) else { return };
        let name = &key[..key.find('{').unwrap_or(key.len())];
        let family_name = self.family_of(name).to_owned();
        let family = self.family(&family_name);
        if family.series.insert(key.to_owned()) {
            family.samples.push(line.to_owned());
        }
    }

    /// The family a sample belongs to: a declared family of that exact name, else the histogram or
    /// summary it is a sub-series of, else a family of its own (untyped).
    fn family_of<'a>(&self, name: &'a str) -> &'a str {
        let declared = |n: &str| self.families.get(n).is_some_and(|f| f.type_line.is_some() || f.help.is_some());
        if declared(name) {
            return name;
        }
        for suffix in SUB_SERIES_SUFFIXES {
            if let Some(base) = name.strip_suffix(suffix)
                && self
                    .families
                    .get(base)
                    .and_then(|f| f.kind.as_deref())
                    .is_some_and(|kind| matches!(kind, "histogram" | "summary" | "gaugehistogram"))
            {
                return base;
            }
        }
        name
    }

    fn family(&mut self, name: &str) -> &mut Family {
        if !self.families.contains_key(name) {
            self.order.push(name.to_owned());
        }
        self.families.entry(name.to_owned()).or_default()
    }

    /// One exposition: per family its HELP, TYPE, then every sample.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for family in self.order.iter().filter_map(|name| self.families.get(name)) {
            for line in family.help.iter().chain(&family.type_line).chain(&family.samples) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// Merges `expositions`, earlier ones winning on duplicates.
pub fn merge<'a>(expositions: impl IntoIterator<Item = &'a str>) -> String {
    let mut merger = Merger::new();
    for exposition in expositions {
        merger.add(exposition);
    }
    merger.render()
}

/// `name{labels}` of a sample line, if the line is a valid sample (a name, optional labels, and a
/// numeric value).
fn series_key(line: &str) -> Option<&str> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    if !is_metric_name(&line[..name_end]) {
        return None;
    }
    let key_end = if line[name_end..].starts_with('{') { name_end + labels_end(&line[name_end..])? } else { name_end };
    let value = line[key_end..].split_whitespace().next()?;
    value.parse::<f64>().ok()?;
    Some(&line[..key_end])
}

/// The length of `{...}` at the start of `labels`, honouring quoted values with `\"` escapes (a
/// label value may contain `}`).
fn labels_end(labels: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (index, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(index + 1),
            _ => {}
        }
    }
    None
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests;
