//! Properties of the argv parser and builder.

use orbctl::argv::parse;
use orbctl::{Flavor, Op};
use proptest::prelude::*;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9][a-zA-Z0-9.-]{0,8}",
        "-[a-z]{1,3}",
        "--[a-z]{1,4}(=[a-z]{0,2})?",
        Just(String::new()),
        Just("--".to_string()),
        Just("-".to_string()),
        "[ -~]{0,6}",
    ]
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(word())
}

/// A command word: anything the run parser will not read as a flag.
fn command_head() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._][a-zA-Z0-9/._ -]{0,8}"
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (word(), opt_word(), opt_word(), opt_word(), opt_word(), any::<bool>()).prop_map(
            |(image, name, arch, user, user_data, set_password)| Op::Create {
                image,
                name,
                arch,
                user,
                user_data,
                set_password
            }
        ),
        (proptest::collection::vec(word(), 0..4), any::<bool>(), any::<bool>())
            .prop_map(|(names, force, all)| Op::Delete { names, force, all }),
        (any::<bool>(), any::<bool>(), opt_word()).prop_map(|(running, quiet, format)| Op::List {
            running,
            quiet,
            format
        }),
        (word(), opt_word()).prop_map(|(name, format)| Op::Info { name, format }),
        (proptest::collection::vec(word(), 0..3), any::<bool>()).prop_map(|(names, all)| Op::Start { names, all }),
        (proptest::collection::vec(word(), 0..3), any::<bool>(), any::<bool>())
            .prop_map(|(names, all, force)| Op::Stop { names, all, force }),
        (proptest::collection::vec(word(), 0..3), any::<bool>()).prop_map(|(names, all)| Op::Restart { names, all }),
        (word(), word()).prop_map(|(src, dst)| Op::Clone { src, dst }),
        (word(), word()).prop_map(|(old, new)| Op::Rename { old, new }),
        (word(), word()).prop_map(|(name, path)| Op::Export { name, path }),
        (opt_word(), word()).prop_map(|(name, path)| Op::Import { name, path }),
        (
            opt_word(),
            opt_word(),
            opt_word(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of((command_head(), proptest::collection::vec(word(), 0..3)))
        )
            .prop_map(|(machine, user, workdir, shell, path, cmd)| Op::Run {
                machine,
                user,
                workdir,
                shell,
                path,
                command: cmd
                    .map(|(head, rest)| std::iter::once(head).chain(rest).collect())
                    .unwrap_or_default(),
            }),
        (opt_word(), proptest::collection::vec(word(), 1..4)).prop_map(|(machine, paths)| Op::Push { machine, paths }),
        (opt_word(), proptest::collection::vec(word(), 1..4)).prop_map(|(machine, paths)| Op::Pull { machine, paths }),
        opt_word().prop_map(|name| Op::Default { name }),
        Just(Op::Status),
        Just(Op::Version),
        (word(), any::<bool>()).prop_map(|(name, all)| Op::Logs { name, all }),
        Just(Op::ConfigShow),
        word().prop_map(|key| Op::ConfigGet { key }),
        (word(), word()).prop_map(|(key, value)| Op::ConfigSet { key, value }),
        proptest::collection::vec(word(), 0..4).prop_map(|args| Op::Other {
            command: vec!["ssh".into()],
            args
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_reads_back_what_the_builder_writes(op in op()) {
        let argv = op.to_argv();
        prop_assert_eq!(parse(Flavor::Orbctl, &argv), Ok(op.clone()), "argv: {:?}", argv);
    }

    #[test]
    fn parser_never_panics_and_normalises(
        args in proptest::collection::vec(
            prop_oneof![
                word(),
                Just("create".to_string()),
                Just("run".to_string()),
                Just("list".to_string()),
                Just("config".to_string()),
                Just("-m".to_string()),
                Just("-f".to_string()),
            ],
            0..7,
        ),
        orb in any::<bool>(),
    ) {
        let flavor = if orb { Flavor::Orb } else { Flavor::Orbctl };
        if let Ok(op) = parse(flavor, &args) {
            // Whatever orbctl accepted, the canonical argv means the same operation.
            if !matches!(op, Op::Help { .. } | Op::Other { .. }) {
                prop_assert_eq!(parse(Flavor::Orbctl, &op.to_argv()), Ok(op.clone()), "from {:?}", args);
            }
        }
    }
}

#[test]
fn aliases_and_canonical_argv() {
    let argv: Vec<String> = ["add", "ubuntu:22.04", "web", "-a", "amd64"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let op = parse(Flavor::Orbctl, &argv).unwrap();
    assert_eq!(op.to_argv(), ["create", "--arch", "amd64", "ubuntu:22.04", "web"]);
    assert_eq!(op.to_string(), "orbctl create --arch amd64 ubuntu:22.04 web");
}
