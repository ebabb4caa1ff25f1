//! Bundles: every task's changes for a peer in one file for a stick. The
//! other end sees what the bundle holds, imports it, and a bundle read
//! twice changes nothing; the next bundle carries only what changed since.

use edensync::audit::Actor;
use edensync::manage::bundle::{self, Outcome};
use edensync::model;

use crate::support::Backend;
use crate::support::cli::Cli;
use crate::support::peers::{
    self, TaskSpec, add_task, count, many_orgs, org, stored_uuids, write_local,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_carries_a_nodes_changes_to_its_peer_once() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    add_task(&a, id, TaskSpec::default());
    add_task(
        &a,
        id,
        TaskSpec {
            table: "org_office",
            ..TaskSpec::default()
        },
    );
    // B takes organisations from A.
    let from_a = model::repositories::find_by_peer_uuid(&mut b.conn(), &a.node.site_uuid)
        .unwrap()
        .unwrap();
    add_task(
        &b,
        from_a.id,
        TaskSpec {
            mode: "pull",
            ..TaskSpec::default()
        },
    );
    write_local(&a, &many_orgs("A", 50));
    let stick = tempfile::tempdir().unwrap();
    let path = stick.path().join("to-b.bundle");
    let repository = model::repositories::find(&mut a.conn(), id)
        .unwrap()
        .unwrap();
    let manifest = bundle::write(
        &mut a.conn(),
        &Actor::cli(),
        &a.node.site_uuid,
        &repository,
        &path,
    )
    .unwrap();
    assert_eq!(
        manifest.tables.len(),
        1,
        "only tables with changes: {manifest:?}"
    );
    assert_eq!(manifest.tables[0].records, 50);
    assert!(
        manifest
            .summary()
            .contains("org_organisation: 50 record(s)"),
        "{}",
        manifest.summary()
    );
    // Never written over.
    assert!(
        bundle::write(
            &mut a.conn(),
            &Actor::cli(),
            &a.node.site_uuid,
            &repository,
            &path
        )
        .is_err()
    );

    // At the other end: what it holds, then the import, once.
    assert_eq!(bundle::show(&path).unwrap().site_uuid, a.node.site_uuid);
    let Outcome::Imported { tables, .. } = bundle::read(
        &mut b.conn(),
        &Actor::cli(),
        &b.node.site_uuid,
        &path,
        None,
        1 << 20,
    )
    .unwrap() else {
        panic!("a new bundle is imported");
    };
    assert_eq!(tables[0].1.masters.created, 50);
    assert_eq!(stored_uuids(&a), stored_uuids(&b));
    let Outcome::ReadBefore(_, _) = bundle::read(
        &mut b.conn(),
        &Actor::cli(),
        &b.node.site_uuid,
        &path,
        None,
        1 << 20,
    )
    .unwrap() else {
        panic!("the same bundle is not imported twice");
    };

    // The next bundle holds only what changed since.
    write_local(
        &a,
        &peers::doc(&[org("urn:uuid:A-new", "New", "NEW", "2026-11-30T10:00:00")]),
    );
    let next = stick.path().join("to-b-2.bundle");
    let manifest = bundle::write(
        &mut a.conn(),
        &Actor::cli(),
        &a.node.site_uuid,
        &repository,
        &next,
    )
    .unwrap();
    assert_eq!(manifest.tables[0].records, 1, "{manifest:?}");
    assert!(matches!(
        bundle::read(
            &mut b.conn(),
            &Actor::cli(),
            &b.node.site_uuid,
            &next,
            None,
            1 << 20
        )
        .unwrap(),
        Outcome::Imported { .. }
    ));
    assert_eq!(count(&b, "org_organisation"), 51);

    // A bundle from a site no repository here is: refused, with what to do.
    let Some(c) = crate::support::TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let refused = bundle::read(
        &mut c.conn(),
        &Actor::cli(),
        &c.node.site_uuid,
        &next,
        None,
        1 << 20,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(refused.contains("--repository"), "{refused}");
}

#[test]
fn the_bundle_commands_write_and_show_a_bundle_and_refuse_to_read_ones_own() {
    let cli = Cli::with_hub();
    cli.ok(&["task", "add", "hub", "org_organisation"]);
    let documents = tempfile::tempdir().unwrap();
    let orgs = documents.path().join("orgs.xml");
    std::fs::write(&orgs, many_orgs("H", 7)).unwrap();
    cli.ok(&["import", orgs.to_str().unwrap()]);
    let path = documents.path().join("for-hub.bundle");
    let written = cli.ok(&["bundle", "write", "hub", path.to_str().unwrap()]);
    assert!(
        written.contains("org_organisation: 7 record(s)"),
        "{written}"
    );
    let shown = cli.ok(&["bundle", "show", path.to_str().unwrap(), "--json"]);
    let manifest: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(manifest["tables"][0]["records"], 7);

    // Copies of one node share its site: this one reads its own bundle,
    // which is refused (a bundle is for the other end).
    let other = Cli::with_hub();
    let own = other.fails(
        &[
            "bundle",
            "read",
            path.to_str().unwrap(),
            "--repository",
            "hub",
        ],
        1,
    );
    assert!(own.contains("was written by this node"), "{own}");
    let not_a_bundle = cli.fails(&["bundle", "show", orgs.to_str().unwrap()], 1);
    assert!(
        not_a_bundle.contains("is not an edensync bundle"),
        "{not_a_bundle}"
    );
}
