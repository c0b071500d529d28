//! Properties of the readers that take outside input: orbctl's list/info JSON and nextest's
//! JUnit never make them panic, and a JUnit test case that failed is never read as passed.
//! (The config loader and the argv parser have theirs in tests/config and tests/machines.)

use orbtest::junit::parse as read_junit_str;
use orbtest::results::TestStatus;
use orbtest_machines::{parse_info, parse_list};
use proptest::prelude::*;

/// A machine record as orbctl prints it, with values that may be of the wrong type.
fn record() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        "[a-z0-9-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("null".to_string()),
        Just("42".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
    ];
    (text.clone(), text.clone(), text.clone(), text, any::<bool>()).prop_map(|(id, name, distro, state, builtin)| {
        format!(
            r#"{{"id":{id},"name":{name},"image":{{"distro":{distro},"version":"jammy","arch":"arm64","variant":"default"}},"config":{{"isolated":false,"default_username":"u","forward_ssh_agent":true}},"builtin":{builtin},"state":{state}}}"#
        )
    })
}

/// Valid-looking documents, then damaged: truncated, or with bytes replaced.
fn json_document() -> impl Strategy<Value = Vec<u8>> {
    let list = prop::collection::vec(record(), 0..4).prop_map(|r| format!("[{}]", r.join(",")));
    let info = (record(), prop::option::of(0u64..u64::MAX)).prop_map(|(r, size)| {
        format!(
            r#"{{"record":{r},"disk_size":{},"ip4":"198.19.249.2"}}"#,
            size.map_or("null".into(), |s| s.to_string())
        )
    });
    (
        prop_oneof![list, info, record()],
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(doc, at, junk)| {
            let mut bytes = doc.into_bytes();
            let i = at.index(bytes.len() + 1);
            if junk.is_empty() {
                bytes.truncate(i);
            } else {
                bytes.splice(i..(i + junk.len()).min(bytes.len()), junk);
            }
            bytes
        })
}

/// Text that XML-escapes nothing on purpose: the reader must cope with whatever it gets.
fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z :=_-]{0,10}", "\\PC{0,10}", Just("&amp;<>\"'".to_string())]
}

#[derive(Debug, Clone)]
enum Case {
    Pass,
    Fail,
    Error,
    Skip,
    /// Passed on a retry after failing.
    Flaky,
}

fn junit_document() -> impl Strategy<Value = (String, Vec<(String, Case)>)> {
    let case = prop_oneof![
        Just(Case::Pass),
        Just(Case::Fail),
        Just(Case::Error),
        Just(Case::Skip),
        Just(Case::Flaky)
    ];
    prop::collection::vec((case, xml_text()), 0..6).prop_map(|cases| {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"nextest-run\" tests=\"1\" failures=\"0\" errors=\"0\">\n<testsuite name=\"bin\" tests=\"1\" disabled=\"0\" errors=\"0\" failures=\"0\">\n");
        let mut named = Vec::new();
        for (i, (kind, text)) in cases.into_iter().enumerate() {
            let name = format!("t{i}");
            let body = match kind {
                Case::Pass => String::new(),
                Case::Fail => format!("<failure type=\"test failure\" message=\"{text}\">{text}</failure><system-out>{text}</system-out>"),
                Case::Error => format!("<error type=\"test timeout\">{text}</error>"),
                Case::Skip => "<skipped/>".to_string(),
                Case::Flaky => format!("<flakyFailure type=\"test failure\">{text}</flakyFailure>"),
            };
            xml.push_str(&format!("<testcase name=\"{name}\" classname=\"bin\" time=\"0.01\">{body}</testcase>\n"));
            named.push((name, kind));
        }
        xml.push_str("</testsuite>\n</testsuites>\n");
        (xml, named)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn list_and_info_parsers_never_panic_on_damaged_json(bytes in json_document()) {
        let _ = parse_list(&bytes);
        let _ = parse_info(&bytes);
    }

    #[test]
    fn list_and_info_parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_list(&bytes);
        let _ = parse_info(&bytes);
    }

    #[test]
    fn junit_reader_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = read_junit_str(&text);
    }

    #[test]
    fn junit_reader_never_reads_a_failed_case_as_passed(
        (xml, cases) in junit_document(),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let xml = if truncate {
            // A JUnit file nextest did not finish writing: whatever is read must still not lie.
            let mut end = cut.index(xml.len() + 1);
            while !xml.is_char_boundary(end) {
                end -= 1;
            }
            xml[..end].to_string()
        } else {
            xml
        };
        if let Ok(results) = read_junit_str(&xml) {
            for r in &results {
                let Some((_, kind)) = cases.iter().find(|(n, _)| *n == r.id.name) else {
                    prop_assert!(false, "a test that is not in the file: {:?}", r.id);
                    continue;
                };
                let passed = matches!(r.status, TestStatus::Passed);
                prop_assert!(
                    !passed || matches!(kind, Case::Pass),
                    "{:?} read as passed from a {:?} case:\n{}", r.id, kind, xml
                );
            }
        }
    }
}
