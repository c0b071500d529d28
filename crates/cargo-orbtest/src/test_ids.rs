//! Test ids across runners. nextest names a test `binary-id::test-name`; a command tier's test
//! is `classname::name` from its JUnit, while its runner may want another spelling to select
//! it (pytest: node ids, `tests/test_a.py::TestX::test_y[1]`, where JUnit says
//! `tests.test_a.TestX::test_y[1]`). A match key makes the spellings meet.

/// `group::name`, or `name` alone when there is no group.
pub fn join(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{group}::{name}")
    }
}

/// Splits a command tier's id at its first `::` (a nextest id is never split: its binary id
/// is known separately).
pub fn split(id: &str) -> (String, String) {
    match id.split_once("::") {
        Some((group, name)) => (group.to_string(), name.to_string()),
        None => (String::new(), id.to_string()),
    }
}

/// One spelling for a command tier's test however its runner or its JUnit writes it: a leading
/// `./` dropped, `.py::` as `::` (pytest's file part), then `/` and `::` as `.`. pytest's node
/// id `tests/test_a.py::TestX::test_y[1]` and JUnit's `tests.test_a.TestX::test_y[1]` both
/// become `tests.test_a.TestX.test_y[1]`.
pub fn match_key(id: &str) -> String {
    let id = id.strip_prefix("./").unwrap_or(id);
    id.replace(".py::", "::").replace("::", ".").replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_node_ids_meet_their_junit_names() {
        for (node, junit) in [
            ("tests/test_a.py::test_x", "tests.test_a::test_x"),
            ("tests/test_a.py::TestX::test_y[1]", "tests.test_a.TestX::test_y[1]"),
            ("./t.py::test_p[a/b-1.5]", "t::test_p[a/b-1.5]"),
        ] {
            assert_eq!(match_key(node), match_key(junit), "{node} vs {junit}");
        }
        assert_ne!(match_key("tests/test_a.py::test_x"), match_key("tests.test_b::test_x"));
    }

    #[test]
    fn ids_split_at_the_first_separator() {
        assert_eq!(split("tests/a.py::T::t"), ("tests/a.py".into(), "T::t".into()));
        assert_eq!(split("plain"), (String::new(), "plain".into()));
        assert_eq!(join("", "plain"), "plain");
        assert_eq!(join("g", "n"), "g::n");
    }
}
