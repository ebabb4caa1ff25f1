//! Folder repositories (sneakernet, compatible with Eden's filesync): two
//! nodes exchange files through one folder both ways; Eden's own filesync
//! files (recorded) are imported, oldest first; the files edensync writes
//! are named and shaped as Eden's; a half-written file imports nothing and
//! is imported once whole; the same bytes are never imported twice; a file
//! from another site is kept out.

use std::path::Path;
use std::time::{Duration, SystemTime};

use edensync::audit::Actor;
use edensync::engine::RunStatus;
use edensync::manage::repositories::RepositoryForm;
use edensync::manage::tasks::TaskForm;
use edensync::manage::{self, ManageError};
use edensync::model;

use crate::support::peers::{self, count, many_orgs, run, stored_uuids, write_local};
use crate::support::{Backend, TestApp};

const EDEN_FILES: [&str; 3] = [
    "org_organisation-20261203065859.xml",
    "org_organisation-20261203065942.xml",
    "org_organisation-20261203-070110-20261203070110.xml",
];

/// A folder repository on `app` with one `org_organisation` task, made as
/// the console and the CLI make them.
fn folder_repository(app: &TestApp, folder: &Path, infile: &str, outfile: &str) -> i64 {
    let mut conn = app.conn();
    let mut form = RepositoryForm::new("Stick");
    form.folder = Some(folder.to_string_lossy().into_owned());
    let repository =
        manage::repositories::create(&mut conn, &Actor::cli(), &app.node.key, &form).unwrap();
    let mut task = TaskForm::new("org_organisation");
    task.infile_pattern = Some(infile.into());
    task.outfile_pattern = Some(outfile.into());
    manage::tasks::add(&mut conn, &Actor::cli(), &repository, &task).unwrap();
    repository.id
}

/// Files are left alone while they may still be being written (2 s): make
/// every file in the folder older.
fn settle(folder: &Path) {
    let past = SystemTime::now() - Duration::from_secs(60);
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
    }
}

fn files_in(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn log_messages(app: &TestApp) -> Vec<String> {
    model::sync_log::recent(&mut app.conn(), 200)
        .unwrap()
        .into_iter()
        .map(|l| format!("{} {}: {}", l.action, l.result.as_str(), l.message))
        .collect()
}

/// The log holds a row with `text`.
fn assert_logged(app: &TestApp, text: &str) {
    let messages = log_messages(app);
    assert!(
        messages.iter().any(|m| m.contains(text)),
        "{text}: {messages:?}"
    );
}

fn eden_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/eden-vectors/filesync/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_exchange_records_through_a_folder_both_ways() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(b) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let a_repo = folder_repository(
        &a,
        folder.path(),
        "from-b-*.xml",
        "from-a-$timestamp.xml.gz",
    );
    let b_repo = folder_repository(&b, folder.path(), "from-a-*.xml*", "from-b-$timestamp.xml");
    write_local(&a, &many_orgs("A", 120));
    write_local(&b, &many_orgs("B", 80));

    let first = run(&a, a_repo).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    let written = files_in(folder.path());
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(
        written[0].starts_with("from-a-") && written[0].ends_with(".xml.gz"),
        "{written:?}"
    );
    settle(folder.path());
    let second = run(&b, b_repo).await;
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    assert_eq!(count(&b, "org_organisation"), 200);
    settle(folder.path());
    let third = run(&a, a_repo).await;
    assert_eq!(third.status, RunStatus::Succeeded, "{third:?}");
    assert_eq!(stored_uuids(&a), stored_uuids(&b));
    // What came from the folder does not go back into it: A's second run
    // has nothing of its own to write.
    assert_logged(&a, "No changes to write");

    // The same bytes under another name change nothing and say so.
    let a_file = files_in(folder.path())
        .into_iter()
        .find(|n| n.starts_with("from-a-"))
        .unwrap();
    std::fs::copy(
        folder.path().join(&a_file),
        folder.path().join("from-a-copy.xml.gz"),
    )
    .unwrap();
    settle(folder.path());
    let again = run(&b, b_repo).await;
    assert_eq!(again.status, RunStatus::Succeeded, "{again:?}");
    assert_eq!(again.counts.pulled_created + again.counts.pulled_updated, 0);
    assert_eq!(
        again.counts.pulled_unchanged, 0,
        "not read again: {again:?}"
    );
    assert_logged(&b, "the same bytes as");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edens_filesync_files_are_imported_oldest_first() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let repository = folder_repository(
        &a,
        folder.path(),
        "org_organisation-*.xml",
        "out-$timestamp.xml",
    );
    // As Eden wrote them, one after the other: the older file first by
    // time, though not by name.
    let base = SystemTime::now() - Duration::from_secs(600);
    for (i, name) in EDEN_FILES.iter().enumerate() {
        let path = folder.path().join(name);
        std::fs::write(&path, eden_file(name)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(base + Duration::from_secs(60 * i as u64))
            .unwrap();
    }
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 4);
    // Beta as the last file has it; Gamma and Delta deleted.
    assert_eq!(
        peers::field(
            &a,
            "org_organisation",
            "urn:uuid:920d4c96-d0b4-4f09-8c43-f8c8dbec0282",
            "year"
        )
        .as_deref(),
        Some("2007")
    );
    for deleted in [
        "urn:uuid:a4fbae60-0a5d-474c-8cb2-68c05ca0a2ed",
        "urn:uuid:5876aae0-0ede-4270-a4b8-834911004ede",
    ] {
        assert!(
            peers::record(&a, "org_organisation", deleted)
                .unwrap()
                .deleted
        );
    }
    assert_eq!(
        peers::field(
            &a,
            "org_organisation",
            "urn:uuid:b1339c9c-4e92-427e-8049-c4ad29d713ca",
            "name"
        )
        .as_deref(),
        Some("Alpha Relief Ünion – 東京 😀")
    );
    assert!(count(&a, "org_office") >= 3);
    let imports: Vec<String> = log_messages(&a)
        .into_iter()
        .rev()
        .filter(|m| m.starts_with("import"))
        .collect();
    assert_eq!(imports.len(), 3, "{imports:?}");
    for (message, name) in imports.iter().zip(EDEN_FILES) {
        assert!(message.contains(name), "oldest first: {imports:?}");
    }

    // Nothing new: no file is read again.
    let again = run(&a, repository).await;
    assert_eq!(again.status, RunStatus::Succeeded, "{again:?}");
    assert!(
        log_messages(&a)[..2]
            .iter()
            .any(|m| m.contains("No files to import"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edensync_writes_files_as_edens_filesync_names_and_reads_them() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let repository = folder_repository(
        &a,
        folder.path(),
        "none-*.xml",
        "org_organisation-$year$month$day-$hour$minute$second-${timestamp}.xml",
    );
    write_local(&a, &many_orgs("A", 3));
    let before = model::now();
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    let names = files_in(folder.path());
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    // org_organisation-YYYYMMDD-HHMMSS-YYYYMMDDHHMMSS.xml, UTC at the run's start.
    let name = &names[0];
    let stamp = &name["org_organisation-".len()..name.len() - ".xml".len()];
    let (date, rest) = stamp.split_at(8);
    assert_eq!(date, before.format("%Y%m%d").to_string(), "{name}");
    assert_eq!(&rest[8..], &format!("{date}{}", &rest[1..7]), "{name}");
    // Eden's declaration on its own line, then an S3XML document Eden's
    // importer reads: resources with uuid and modified_on, results.
    let text = std::fs::read_to_string(folder.path().join(name)).unwrap();
    assert!(
        text.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<s3xml "),
        "{}",
        &text[..80.min(text.len())]
    );
    let (root, records) = edensync::s3xml::reader::read_all(text.as_bytes()).unwrap();
    assert_eq!(root.attribute("results"), Some("3"));
    assert_eq!(
        root.attribute("edensync_site"),
        Some(a.node.site_uuid.as_str())
    );
    assert_eq!(root.attribute("edensync_table"), Some("org_organisation"));
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r.uuid.is_some() && r.modified_on.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_file_imports_nothing_and_is_imported_once_whole() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let repository = folder_repository(
        &a,
        folder.path(),
        "org_organisation-*.xml",
        "out-$timestamp.xml",
    );
    let whole = eden_file(EDEN_FILES[0]);
    let path = folder.path().join(EDEN_FILES[0]);
    // Being written right now: left for the next run, not even read.
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 0);
    assert!(
        !log_messages(&a)
            .iter()
            .any(|m| m.contains("cannot be read whole")),
        "{:?}",
        log_messages(&a)
    );
    // Cut short by a writer that stopped (an old half file): reported,
    // nothing of it imported, the run goes on.
    settle(folder.path());
    let report = run(&a, repository).await;
    assert_eq!(count(&a, "org_organisation"), 0, "{report:?}");
    assert_logged(&a, "cannot be read whole");
    // Written whole: imported once.
    std::fs::write(&path, &whole).unwrap();
    settle(folder.path());
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 4);
    let once = run(&a, repository).await;
    assert_eq!(once.counts.pulled_created + once.counts.pulled_updated, 0);
    assert_eq!(once.counts.pulled_unchanged, 0, "not read again: {once:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_another_site_is_kept_out() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(b) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let outbox = tempfile::tempdir().unwrap();
    let b_repo = folder_repository(&b, outbox.path(), "none-*.xml", "org-$timestamp.xml");
    write_local(&b, &many_orgs("B", 5));
    assert_eq!(run(&b, b_repo).await.status, RunStatus::Succeeded);
    settle(outbox.path());
    let a_repo = folder_repository(&a, outbox.path(), "org-*.xml", "a-$timestamp.xml");
    // This folder belongs to another site.
    model::repositories::set_peer_uuid(&mut a.conn(), a_repo, "urn:uuid:some-other-site").unwrap();
    let report = run(&a, a_repo).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 0);
    assert_logged(&a, &format!("written by the site {}", b.node.site_uuid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_tasks_need_their_patterns() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let mut conn = a.conn();
    let mut form = RepositoryForm::new("Stick");
    form.folder = Some("relative/path".into());
    let Err(ManageError::Invalid(errors)) =
        manage::repositories::create(&mut conn, &Actor::cli(), &a.node.key, &form)
    else {
        panic!("a relative folder is refused");
    };
    assert!(errors.iter().any(|e| e.field == "folder"), "{errors:?}");
    form.folder = Some(folder.path().to_string_lossy().into_owned());
    let repository =
        manage::repositories::create(&mut conn, &Actor::cli(), &a.node.key, &form).unwrap();
    let task = TaskForm::new("org_organisation");
    let Err(ManageError::Invalid(errors)) =
        manage::tasks::add(&mut conn, &Actor::cli(), &repository, &task)
    else {
        panic!("a folder task without patterns is refused");
    };
    assert!(
        errors.iter().any(|e| e.field == "infile_pattern"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.field == "outfile_pattern"),
        "{errors:?}"
    );
    let mut task = TaskForm::new("org_organisation");
    task.infile_pattern = Some("*.xml".into());
    task.outfile_pattern = Some("../escape-$timestamp.xml".into());
    let Err(ManageError::Invalid(errors)) =
        manage::tasks::add(&mut conn, &Actor::cli(), &repository, &task)
    else {
        panic!("an output file outside the folder is refused");
    };
    assert!(
        errors.iter().any(|e| e.field == "outfile_pattern"),
        "{errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_files_are_deleted_when_the_task_says_so() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let mut conn = a.conn();
    let mut form = RepositoryForm::new("Stick");
    form.folder = Some(folder.path().to_string_lossy().into_owned());
    let repository =
        manage::repositories::create(&mut conn, &Actor::cli(), &a.node.key, &form).unwrap();
    let mut task = TaskForm::new("org_organisation");
    task.mode = "pull".into();
    task.infile_pattern = Some("org_organisation-*.xml".into());
    task.delete_input_files = true;
    manage::tasks::add(&mut conn, &Actor::cli(), &repository, &task).unwrap();
    drop(conn);
    std::fs::write(folder.path().join(EDEN_FILES[1]), eden_file(EDEN_FILES[1])).unwrap();
    // A file that cannot be read stays, for an administrator to see.
    std::fs::write(
        folder.path().join("org_organisation-broken.xml"),
        "<s3xml><resource",
    )
    .unwrap();
    settle(folder.path());
    let report = run(&a, repository.id).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(count(&a, "org_organisation"), 4);
    assert_eq!(files_in(folder.path()), ["org_organisation-broken.xml"]);
}

/// The console sets up a folder repository (folder instead of URL, file
/// patterns on the Resources tab), and "Sync now" writes the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_repository_is_set_up_and_synced_in_the_console() {
    use crate::support::browser::{
        Browser, click, log_in, set_width, shot, type_into, wait_for, wait_for_text,
    };
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    write_local(&a, &many_orgs("A", 4));
    let folder = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;
    log_in(driver, &a).await;
    driver.goto(a.url("/repositories/new")).await.unwrap();
    type_into(driver, "name", "Stick").await;
    type_into(driver, "folder", "not/absolute").await;
    click(driver, "form[action='/repositories'] button[type='submit']").await;
    wait_for_text(driver, "is not an absolute path").await;
    let field = driver.find(thirtyfour::By::Id("folder")).await.unwrap();
    field.clear().await.unwrap();
    field
        .send_keys(folder.path().to_string_lossy().as_ref())
        .await
        .unwrap();
    click(driver, "form[action='/repositories'] button[type='submit']").await;
    wait_for_text(driver, "a folder repository").await;
    let path = driver.current_url().await.unwrap().path().to_string();
    let id: i64 = path.trim_start_matches("/repositories/").parse().unwrap();

    driver
        .goto(a.url(&format!("/repositories/{id}/resources")))
        .await
        .unwrap();
    type_into(driver, "table", "org_organisation").await;
    click(driver, "form[action$='/resources'] button[type='submit']").await;
    wait_for_text(driver, "is required to pull from a folder").await;
    type_into(driver, "infile_pattern", "hub-*.xml").await;
    type_into(driver, "outfile_pattern", "site-$timestamp.xml").await;
    click(driver, "form[action$='/resources'] button[type='submit']").await;
    wait_for_text(driver, "is synced with Stick now").await;
    for width in [1400, 400] {
        set_width(driver, width).await;
        driver
            .goto(a.url(&format!("/repositories/{id}/resources")))
            .await
            .unwrap();
        wait_for(driver, "#infile_pattern").await;
        shot(driver, &format!("folder-resources-{width}")).await;
    }
    set_width(driver, 1400).await;
    driver.goto(a.url("/")).await.unwrap();
    click(
        driver,
        format!("form[action='/repositories/{id}/sync'] button"),
    )
    .await;
    let run_link = wait_for(driver, "table a[href^='/runs/']").await;
    run_link.click().await.unwrap();
    wait_for_text(driver, "Data successfully written to").await;
    shot(driver, "folder-run-1400").await;
    let names = files_in(folder.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("site-"), "{names:?}");
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stick_that_is_not_plugged_in_is_reported_and_nothing_is_written_past_it() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let repository = folder_repository(&a, folder.path(), "in-*.xml", "out-$timestamp.xml");
    write_local(&a, &many_orgs("A", 3));
    let gone = folder.path().to_path_buf();
    drop(folder);
    let report = run(&a, repository).await;
    assert_ne!(report.status, RunStatus::Succeeded, "{report:?}");
    assert!(
        report
            .error
            .as_deref()
            .is_some_and(|e| e.contains("is not there")),
        "{report:?}"
    );
    assert!(!gone.exists(), "the folder was not made up");
    // Plugged in again: the changes are all written.
    std::fs::create_dir(&gone).unwrap();
    let report = run(&a, repository).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:?}");
    assert_eq!(report.counts.pushed_created, 3, "{report:?}");
    std::fs::remove_dir_all(&gone).unwrap();
}
