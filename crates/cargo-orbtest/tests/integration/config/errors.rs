use orbtest::config::{Source, parse};

/// The rendered error for `text`, which must be rejected.
fn rejected(text: &str) -> String {
    match parse(Source::new("orchestrator.toml", text)) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

macro_rules! snapshot {
    ($name:ident, $text:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), rejected($text), $text);
        }
    };
}

snapshot!(unknown_tier_key, "[tiers.fast]\nfilter = \"kind(lib)\"\nthread = 4\n");
snapshot!(
    unknown_top_level_section,
    "[tiers.fast]\n\n[machine]\nprovider = \"sim\"\n"
);
snapshot!(bad_duration, "[tiers.integration]\ntimeout = \"five minutes\"\n");
snapshot!(duration_without_unit, "[tiers.integration]\ntimeout = 300\n");
snapshot!(
    ambiguous_and_absurd_durations,
    "[tiers.integration]\ntimeout = \"5M\"\ngrace_period = \"400d\"\nretries = { count = 1, delay = \"2w\" }\n[pressure]\nmax_wait = \"99999999999999h\"\n"
);
snapshot!(zero_timeout, "[tiers.integration]\ntimeout = \"0s\"\n");
snapshot!(unknown_needs, "[tiers.fast]\n[tiers.integration]\nneeds = [\"fats\"]\n");
snapshot!(needs_cycle, "[tiers.a]\nneeds = [\"b\"]\n[tiers.b]\nneeds = [\"a\"]\n");
snapshot!(
    needs_later_tier,
    "[tiers.integration]\nneeds = [\"fast\"]\n[tiers.fast]\n"
);
snapshot!(needs_itself, "[tiers.fast]\nneeds = [\"fast\"]\n");
snapshot!(
    quarantine_without_expires,
    "[tiers.fast]\n\n[[quarantine]]\ntest = \"test(=flips)\"\nreason = \"flips\"\nowner = \"ci\"\n"
);
snapshot!(
    quarantine_with_a_bad_date,
    "[tiers.fast]\n\n[[quarantine]]\ntest = \"test(=flips)\"\nreason = \"flips\"\nowner = \"ci\"\nexpires = \"2027-02-30\"\n"
);
snapshot!(
    quarantine_unknown_key,
    "[tiers.fast]\n\n[[quarantine]]\ntest = \"test(=flips)\"\nreason = \"flips\"\nowners = \"ci\"\nexpires = 2027-01-31\n"
);
snapshot!(
    flake_rate_as_a_percentage,
    "[tiers.fast]\n\n[gate]\nmax_flake_rate = 5\n"
);
snapshot!(
    list_without_tests_placeholder,
    "[tiers.py]\ncommand = [\"pytest\", \"--junitxml={junit}\"]\nlist = [\"pytest\", \"--collect-only\", \"-q\"]\n"
);
snapshot!(
    new_test_runs_on_a_command_tier,
    "[tiers.py]\ncommand = [\"pytest\"]\nnew_test_runs = 5\n"
);
snapshot!(no_tiers, "# nothing here yet\n");
snapshot!(empty_tiers_table, "[tiers]\n");
snapshot!(tiers_not_a_table, "tiers = [\"fast\"]\n");
snapshot!(
    wrong_types,
    "[tiers.fast]\nthreads = \"many\"\nmachines = \"yes\"\nretries = \"twice\"\nflaky = \"test(x)\"\n"
);
snapshot!(zero_threads, "[tiers.fast]\nthreads = 0\n");
snapshot!(invalid_tier_name, "[tiers.\"fast tests\"]\n");
snapshot!(
    unknown_backoff,
    "[tiers.fast]\nretries = { count = 2, backoff = \"linear\" }\n"
);
snapshot!(
    exponential_without_delay,
    "[tiers.fast]\nretries = { count = 2, backoff = \"exponential\" }\n"
);
snapshot!(empty_filter, "[tiers.fast]\nfilter = \" \"\n");
snapshot!(
    unsafe_prefixes,
    "[tiers.fast]\n[machines]\nprefixes = [\"\", \"t\", \"test-\"]\n"
);
snapshot!(
    prefixes_no_machine_name_can_start_with,
    "[tiers.fast]\n[machines]\nprefixes = [\"test-*\", \"my vm-\", \"---\", \"e2e-\"]\n"
);
snapshot!(
    bad_protect_globs,
    "[tiers.fast]\n[machines]\nprotect = [\"dev\", \"work-[\", \"my_vm\", \"\"]\n"
);

/// `protect` is an exception list: it may name machines under a cleanup prefix (that is its
/// point), and the config is accepted.
#[test]
fn protect_entries_under_a_prefix_are_exceptions() {
    let text = "[tiers.fast]\n[machines]\nprefixes = [\"test-\"]\nprotect = [\"test-fixture-db\", \"test-keep-*\"]\n";
    let config = parse(Source::new("orchestrator.toml", text)).expect("accepted");
    assert_eq!(config.machines.protect, ["test-fixture-db", "test-keep-*"]);
}
snapshot!(unknown_provider, "[tiers.fast]\n[machines]\nprovider = \"incus\"\n");
snapshot!(
    docker_images_without_a_recipe,
    "[tiers.fast]\nmachines = true\n[machines]\nprovider = \"docker\"\nimages = [\"debian\", \"ubuntu:jammy\"]\n\
     [[machines.baseline]]\nname = \"base-alpine\"\nimage = \"alpine\"\n[machines.workers]\nimage = \"fedora\"\n\
     [machines.docker.images.\"ubuntu:22.04\"]\ndebootstrap = \"bookworm\"\n"
);
snapshot!(
    docker_recipe_mistakes,
    "[tiers.fast]\n[machines]\nprovider = \"docker\"\n\
     [machines.docker.images.\"ubuntu:22.04\"]\nfrom = \"ubuntu:22.04\"\ndebootstrap = \"jammy\"\n\
     [machines.docker.images.\"debian\"]\npackages = [\"python3\"]\n\
     [machines.docker.images.\"debian:12\"]\nfrom = \"debian:12\"\nmirror = \"http://deb.debian.org/debian\"\n\
     [machines.docker.images.\"ubunto\"]\nfrom = \"ubuntu\"\n\
     [machines.docker.images.\"alpine\"]\ndebootstrap = \"Bookworm\"\nmirror = \"deb.debian.org\"\npackages = [\"python3 curl\"]\nfrm = \"x\"\n"
);
snapshot!(
    baseline_without_image,
    "[tiers.fast]\n[[machines.baseline]]\nname = \"base\"\n"
);
snapshot!(
    swap_limit_out_of_range,
    "[tiers.fast]\n[pressure]\nswap_limit_percent = 180\non_pressure = \"panic\"\n"
);
snapshot!(
    gate_for_unknown_tier,
    "[tiers.fast]\n[gate.tiers.fsat]\nmax_failed = 0\n"
);
snapshot!(invalid_toml, "[tiers.fast\nfilter = \"x\"\n");
snapshot!(
    command_and_filter,
    "[tiers.py]\nfilter = \"all()\"\ncommand = [\"pytest\", \"-q\"]\n"
);
snapshot!(
    unknown_placeholder,
    "[tiers.py]\ncommand = [\"pytest\", \"--junitxml={junt}\", \"-n\", \"{threads}\"]\n"
);
snapshot!(
    shell_braces_need_doubling,
    "[tiers.py]\ncommand = [\"sh\", \"-c\", \"echo ${HOME}\"]\n"
);
snapshot!(
    nextest_keys_on_a_command_tier,
    "[tiers.py]\ncommand = [\"pytest\"]\nflaky = [\"test(x)\"]\nfail_fast = true\n"
);
snapshot!(
    command_keys_on_a_nextest_tier,
    "[tiers.fast]\nrerun = [\"pytest\", \"--lf\"]\nworkdir = \"py\"\n"
);
snapshot!(empty_command, "[tiers.py]\ncommand = []\nrerun = [\"\"]\n");
snapshot!(
    bad_command_env,
    "[tiers.py]\ncommand = [\"jest\"]\nenv = { JEST_JUNIT_OUTPUT_FILE = \"{junit\", CI = true }\n"
);
snapshot!(
    workers_without_a_source,
    "[tiers.fast]\n[machines.workers]\ncount = 2\n"
);
snapshot!(
    workers_with_an_unknown_baseline,
    "[tiers.fast]\n[[machines.baseline]]\nname = \"base-jammy\"\nimage = \"ubuntu:22.04\"\n[machines.workers]\nbaseline = \"base-jamy\"\ncount = \"cpus\"\n"
);
snapshot!(
    workers_with_image_and_baseline,
    "[tiers.fast]\n[machines.workers]\nimage = \"ubuntu:22.04\"\nbaseline = \"b\"\nsize = 2\n"
);
snapshot!(
    restart_limits_out_of_range,
    "[tiers.fast]\n[machines.restart]\nswap_percent = 120\nhelper_memory_mib = 0\ntimeout = 60\n"
);
snapshot!(
    several_problems_at_once,
    "[tiers.fast]\ntimeout = \"soon\"\n[tiers.e2e]\nneeds = [\"integration\"]\nflaky_retries = -1\n"
);

#[test]
fn the_documented_draft_config_is_accepted() {
    let draft = r#"
[machines]
provider = "orbstack"
prefixes = ["test-", "e2e-"]
protect = ["dev", "work-*"]
max_concurrent_creates = 2
timeouts = { create = "180s", lifecycle = "60s", query = "30s" }
retry = { attempts = 4, delay = "2s", backoff = "exponential" }
images = ["ubuntu:22.04"]

[[machines.baseline]]
name = "orbtest-base-jammy"
image = "ubuntu:22.04"
provision = ["apt-get update", "apt-get install -y python3"]
clone_for_create = true

[pressure]
swap_limit_percent = 80
on_pressure = "wait"
max_wait = "10m"

[tiers.fast]
filter = "kind(lib) | binary(command_builders)"
threads = "num-cpus"
timeout = "60s"

[tiers.integration]
filter = "binary(/integration/)"
threads = 2
timeout = "300s"
retries = { count = 2, delay = "10s" }
flaky = ["test(vm_info)"]
machines = true
needs = ["fast"]

[gate]
max_failed = 0
max_timed_out = 0
max_flaky = 2
max_duration = "15m"
max_peak_swap_percent = 50
max_leftover_machines = 0
"#;
    let config = parse(Source::new("orchestrator.toml", draft)).expect("draft config");
    assert_eq!(config.tier_names(), ["fast", "integration"]);
    let integration = config.tier("integration").unwrap();
    assert_eq!(integration.timeout.as_secs(), 300);
    assert_eq!(integration.retries.count, 2);
    assert!(integration.machines);
    assert_eq!(config.machines.baselines[0].provision.len(), 2);
    assert_eq!(config.gate.max_flaky, Some(2));
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = parse(Source::new(
        "orchestrator.toml",
        "[tiers.fast]\n[tiers.integration]\n[tiers.e2e]\n",
    ))
    .unwrap();
    let fast = config.tier("fast").unwrap();
    assert_eq!(fast.filter, "all()");
    assert_eq!(fast.threads, orbtest::config::Threads::NumCpus);
    assert_eq!(fast.timeout.as_secs(), 60);
    assert_eq!(fast.retries.count, 0);
    assert_eq!(fast.flaky_retries, 2);
    assert!(!fast.machines && !fast.fail_fast && fast.needs.is_empty());
    assert_eq!(config.tier("integration").unwrap().timeout.as_secs(), 300);
    assert_eq!(config.tier("e2e").unwrap().timeout.as_secs(), 900);
    assert_eq!(config.machines.max_concurrent_creates, None, "the host decides");
    assert_eq!(config.machines.timeouts.create.as_secs(), 180);
    assert_eq!(config.pressure.swap_limit_percent, 80.0);
    assert_eq!(config.gate.max_failed, Some(0));
}

#[test]
fn a_command_tier_reads_back_with_its_defaults() {
    let config = parse(Source::new(
        "/repo/orchestrator.toml",
        "[tiers.py]\ncommand = [\"pytest\", \"--junitxml={junit}\"]\nrerun = [\"pytest\", \"--lf\"]\n\
         workdir = \"python\"\nenv = { A = \"{tier}\", B = \"{{x}}\" }\n[machines.workers]\nimage = \"ubuntu:22.04\"\n",
    ))
    .unwrap();
    let tier = &config.tiers[0];
    let command = tier.command.as_ref().unwrap();
    assert_eq!(command.argv, ["pytest", "--junitxml={junit}"]);
    assert_eq!(command.workdir(&config.dir()), std::path::Path::new("/repo/python"));
    assert_eq!(
        command.env,
        [("A".into(), "{tier}".into()), ("B".into(), "{{x}}".into())]
    );
    assert_eq!(tier.timeout, orbtest::config::COMMAND_TIMEOUT);
    assert_eq!(
        config.machines.workers.as_ref().unwrap().count,
        orbtest::config::WorkerCount::Threads
    );
    let explicit = config.to_explicit_toml();
    assert!(!explicit.contains("filter"), "{explicit}");
    let again = parse(Source::new("/repo/orchestrator.toml", explicit)).unwrap();
    assert_eq!(again.tiers[0].command, tier.command);
}

#[test]
fn a_docker_config_is_accepted_and_reads_back() {
    let text = "[tiers.e2e]\nmachines = true\n[machines]\nprovider = \"docker\"\nimages = [\"ubuntu:jammy\"]\n\
                [[machines.baseline]]\nname = \"base\"\nimage = \"ubuntu:22.04\"\n\
                [machines.docker.images.\"ubuntu:22.04\"]\ndebootstrap = \"bookworm\"\npackages = [\"iputils-ping\"]\n\
                [machines.docker.images.\"debian\"]\nfrom = \"debian:bookworm\"\n";
    let config = parse(Source::new("orchestrator.toml", text)).expect("docker config");
    assert_eq!(config.machines.provider, orbtest::config::ProviderKind::Docker);
    let docker = &config.machines.docker;
    let jammy = docker.recipe("ubuntu:jammy").expect("ubuntu:jammy is ubuntu:22.04");
    assert_eq!(jammy.name, "ubuntu:22.04");
    assert_eq!(
        jammy.source,
        orbtest::config::ImageSource::Debootstrap {
            suite: "bookworm".into(),
            mirror: None
        }
    );
    assert_eq!(jammy.packages, ["iputils-ping"]);
    assert!(docker.recipe("debian:12").is_some() && docker.recipe("alpine").is_none());
    let again = parse(Source::new("orchestrator.toml", config.to_explicit_toml())).unwrap();
    assert_eq!(again.machines, config.machines);
}
