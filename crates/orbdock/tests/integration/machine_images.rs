//! Machine images: built from debootstrap once, then found by recipe hash.

use orbdock::images::{self, Recipe};

use crate::support;

#[test]
fn a_debootstrap_image_is_built_once_and_then_found_by_its_recipe() {
    let Some((engine, first)) = support::image() else {
        return;
    };
    // The shared image came from debootstrap (this run or an earlier one on this engine).
    assert_eq!(first.name, support::IMAGE);
    assert_eq!(first.recipe, support::recipe().hash());
    let log = support::image_log();
    let again = images::ensure(&engine, support::IMAGE, &support::recipe(), false, &log).expect("ensure");
    assert!(!again.built, "a cached image was built again");
    assert_eq!(again.id, first.id);
    assert!(images::list(&engine).expect("list").iter().any(|i| i.id == first.id));
    // A create finds it by name (or an alias) without the map file.
    assert!(images::resolve(&engine, "ubuntu:jammy").expect("resolve").is_some());
    if first.built {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("debootstrap"),
            "the build log says nothing of debootstrap:\n{text}"
        );
    }
    // A different recipe is a different image (not built here: that costs a bootstrap).
    let other = Recipe {
        packages: vec!["curl".into()],
        ..support::recipe()
    };
    assert_ne!(other.hash(), first.recipe);
    assert!(
        images::cached(&engine, support::IMAGE, &other)
            .expect("cached")
            .is_none_or(|i| i.id != first.id)
    );
}

#[test]
fn a_missing_base_image_is_a_clear_error_not_a_pull() {
    let Some(engine) = support::engine() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let recipe = Recipe {
        from: Some("orbtest/no-such-base:never".into()),
        ..Default::default()
    };
    let err = images::ensure(&engine, "nothing:1", &recipe, false, &dir.path().join("log")).expect_err("no base");
    let text = err.to_string();
    assert!(
        text.contains("orbtest/no-such-base:never") && text.contains("never pulls"),
        "{text}"
    );
}

#[test]
fn create_without_a_machine_image_names_the_config_key() {
    let Some(engine) = support::engine() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let map = dir.path().join("images.json");
    std::fs::write(&map, "{}").expect("write");
    let project = format!("orbdock-test-{}", ulid::Ulid::new().to_string().to_lowercase());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orbdock"))
        .args(["create", "fedora:42", "nothing-here"])
        .env("ORBDOCK_PROJECT", &project)
        .env("ORBTEST_DOCKER_IMAGES", &map)
        .output()
        .expect("run orbdock");
    support::cleanup_project(&engine, &project);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("[-32098] create 'nothing-here': make rootfs: no machine image for 'fedora:42'")
            && stderr.contains("[machines.docker.images.\"fedora:42\"]"),
        "{stderr}"
    );
}

#[test]
fn an_image_from_a_local_docker_image_gets_what_machines_need() {
    let Some((engine, base)) = support::image() else {
        return;
    };
    // The debootstrap image stands in for a local base image (no registry here); the recipe
    // installs the machine packages into it again and adds one more.
    let name = format!("from-test-{}", ulid::Ulid::new().to_string().to_lowercase());
    let recipe = Recipe {
        from: Some(base.tag.clone()),
        packages: vec!["less".into()],
        ..Default::default()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("from.log");
    let built = images::ensure(&engine, &name, &recipe, false, &log).expect("build from a local image");
    assert!(
        built.built && built.name == name && built.recipe == recipe.hash(),
        "{built:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("apt-get install"), "{text}");
    let w = support::World::new(engine, &built);
    let map = serde_json::json!({ support::IMAGE: built.id }).to_string();
    std::fs::write(&w.images_map, map).expect("write map");
    w.orbctl(["create", support::IMAGE, "from-m"]).ok();
    let out = w.orbctl(["run", "-m", "from-m", "sh", "-c", "sudo -n true && command -v less"]);
    assert_eq!(out.ok().stdout, "/usr/bin/less\n");
    w.orbctl(["delete", "from-m"]).ok();
    let rt = support::tokio_rt();
    let _ = rt.block_on(w.engine.docker().remove_image(
        &built.id,
        None::<bollard::query_parameters::RemoveImageOptions>,
        None,
    ));
}
