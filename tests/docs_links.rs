//! Every reference-style link in the Markdown documents has a definition, so GitHub and the crate
//! registry's page show links, not raw brackets (rustdoc resolves `` [`Item`] `` by itself, but the
//! others do not); and no relative link to a file points nowhere.

use std::collections::BTreeSet;
use std::path::Path;

const DOCUMENTS: &[&str] = &[
    "README.md",
    "BENCHMARKS.md",
    "RELIABILITY.md",
    "proto/README.md",
    "emulator/README.md",
];

/// The text outside fenced code blocks, with inline code spans that are not link texts blanked.
fn prose(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut out = String::new();
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            let Some(len) = rest[start + 1..].find('`') else {
                break;
            };
            let end = start + 1 + len;
            let is_link_text = rest[..start].ends_with('[') && rest[end + 1..].starts_with(']');
            out.push_str(&rest[..start]);
            if is_link_text {
                out.push_str(&rest[start..=end]);
            } else {
                out.push_str("CODE");
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        lines.push(out);
    }
    lines
}

/// `[text]` used as a link (not `[text](url)`, `[text][ref]`, nor a definition `[text]: url`).
fn references(lines: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in lines {
        if line.trim_start().starts_with('[') && line.contains("]: ") {
            continue;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while let Some(open) = line[i..].find('[').map(|o| o + i) {
            let Some(close) = line[open + 1..].find(']').map(|c| c + open + 1) else {
                break;
            };
            let label = &line[open + 1..close];
            let next = bytes.get(close + 1).copied();
            let inner = label.contains('[');
            if !inner && next != Some(b'(') && next != Some(b'[') && !label.is_empty() {
                found.insert(label.to_owned());
            }
            i = close + 1;
        }
    }
    found
}

fn definitions(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let rest = line.strip_prefix('[')?;
            let (label, after) = rest.split_once("]: ")?;
            (!after.trim().is_empty()).then(|| label.to_owned())
        })
        .collect()
}

#[test]
fn every_reference_link_has_a_definition() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for document in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(document)).expect("the document exists");
        let defined = definitions(&text);
        for label in references(&prose(&text)) {
            if !defined.contains(&label) {
                missing.push(format!("{document}: [{label}]"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "reference links without a definition (add `[label]: https://…` at the end):\n{}",
        missing.join("\n")
    );
}

#[test]
fn relative_links_point_at_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut broken = Vec::new();
    for document in DOCUMENTS {
        let path = root.join(document);
        let text = std::fs::read_to_string(&path).expect("the document exists");
        for line in prose(&text) {
            let mut rest = line.as_str();
            while let Some(at) = rest.find("](") {
                let after = &rest[at + 2..];
                let Some(end) = after.find(')') else { break };
                let target = &after[..end];
                let file = target.split('#').next().unwrap_or_default();
                if !file.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                    let resolved = path.parent().expect("a folder").join(file);
                    if !resolved.exists() {
                        broken.push(format!("{document}: ({target})"));
                    }
                }
                rest = &after[end..];
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to files that do not exist:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_checker_finds_what_it_should() {
    let text = "See [`Notification`] and [`Webhook`](x) and [docs][d], `a [b] c`, [Free text].\n\n```\n[`Ignored`]\n```\n\n[d]: https://example.org\n[`Webhook`]: https://example.org\n";
    let found = references(&prose(text));
    assert_eq!(
        found,
        // `[docs][d]` uses the label `d`.
        BTreeSet::from([
            "`Notification`".to_owned(),
            "Free text".to_owned(),
            "d".to_owned()
        ])
    );
    assert_eq!(
        definitions(text),
        BTreeSet::from(["d".to_owned(), "`Webhook`".to_owned()])
    );
}
