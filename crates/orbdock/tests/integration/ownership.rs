//! Ownership by labels: a container orbdock did not make is invisible to it.

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};

use crate::support::{self, World};

#[test]
fn a_container_orbdock_did_not_make_is_invisible_and_survives_delete_all() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let w = World::new(engine, &image);
    let rt = support::tokio_rt();
    let docker = w.engine.docker().clone();
    // Named like one of our machines, even labelled with our project, but not as a machine.
    let name = orbdock::machine::container_name(&w.project, "stranger");
    let body = ContainerCreateBody {
        image: Some(image.id.clone()),
        cmd: Some(vec!["sleep".into(), "600".into()]),
        labels: Some(HashMap::from([(
            orbdock::labels::PROJECT.to_string(),
            w.project.clone(),
        )])),
        ..Default::default()
    };
    let made = rt
        .block_on(docker.create_container(
            Some(CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            }),
            body,
        ))
        .expect("create the stranger");
    w.orbctl(["create", support::IMAGE, "ours"]).ok();
    assert_eq!(w.orbctl(["list", "-q"]).ok().stdout, "ours\n");
    let info = w.orbctl(["info", "stranger"]);
    assert_eq!(info.stderr, "[-32098] machine not found: 'stranger'\n");
    assert_eq!(w.orbctl(["delete", "stranger"]).code, 1);
    w.orbctl(["delete", "-a"]).ok();
    assert_eq!(w.orbctl(["list", "-q"]).ok().stdout, "");
    let still =
        rt.block_on(docker.inspect_container(&made.id, None::<bollard::query_parameters::InspectContainerOptions>));
    let _ = rt.block_on(docker.remove_container(
        &made.id,
        Some(RemoveContainerOptions {
            force: true,
            ..Default::default()
        }),
    ));
    assert!(still.is_ok(), "delete -a removed a container orbdock did not make");
}

#[test]
fn another_projects_machines_are_out_of_sight() {
    let Some((engine, image)) = support::image() else {
        return;
    };
    let a = World::new(engine, &image);
    let Some(engine_b) = support::engine() else {
        return;
    };
    let b = World::new(engine_b, &image);
    a.orbctl(["create", support::IMAGE, "shared-name"]).ok();
    // The same name in another project is another machine.
    assert_eq!(b.orbctl(["list", "-q"]).ok().stdout, "");
    b.orbctl(["delete", "-a"]).ok();
    assert_eq!(a.orbctl(["list", "-q"]).ok().stdout, "shared-name\n");
}
