//! The console's looks, measured in a real browser: each run state has its
//! own colour, tables turn into cards on a 400 px phone without a sideways
//! scroll, inputs have borders of at least 3:1 contrast and a visible focus
//! ring, a skip link comes first, and the login card sits in the middle.

use serde_json::Value;
use thirtyfour::prelude::*;

use crate::support::browser::{Browser, log_in, open, set_width, shot, wait_for};
use crate::support::peers::{self, TaskSpec, add_task};
use crate::support::{Backend, TestApp};

/// Run `script` in the page and return what it returns.
async fn eval(driver: &WebDriver, script: &str) -> Value {
    driver
        .execute(script, Vec::new())
        .await
        .unwrap()
        .json()
        .clone()
}

/// The WCAG contrast ratio of two CSS `rgb(...)` colours.
fn contrast(a: &str, b: &str) -> f64 {
    fn luminance(css: &str) -> f64 {
        let parts: Vec<f64> = css
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|p| p.trim().parse::<f64>().unwrap() / 255.0)
            .map(|c| {
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            })
            .collect();
        0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]
    }
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn contrast_is_computed_as_wcag_says() {
    assert!((contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") - 21.0).abs() < 0.01);
    assert!((contrast("rgb(119, 119, 119)", "rgb(255, 255, 255)") - 4.48).abs() < 0.01);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn states_have_their_colours_tables_become_cards_and_focus_shows() {
    let Some((a, _b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    a.add_admin();
    add_task(&a, id, TaskSpec::default());
    peers::write_local(&a, &peers::many_orgs("A", 3));
    peers::run(&a, id).await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let driver = &browser.driver;

    // The login card in the middle, at both widths.
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/login")).await;
        let margins = eval(
            driver,
            "const r = document.querySelector('main .card').getBoundingClientRect();
             return [r.left, document.documentElement.clientWidth - r.right];",
        )
        .await;
        let (left, right) = (margins[0].as_f64().unwrap(), margins[1].as_f64().unwrap());
        assert!((left - right).abs() <= 2.0, "centred at {width}: {margins}");
        shot(driver, &format!("login-{width}")).await;
    }

    log_in(driver, &a).await;
    set_width(driver, 1400).await;
    open(driver, a.url("/runs")).await;

    // Six states, six different badge colours (the classes the pages use).
    let colours = eval(
        driver,
        "return ['ok', 'running', 'warn', 'skipped', 'retrying', 'error'].map(state => {
           const badge = document.createElement('span');
           badge.className = 'badge badge-' + state;
           document.body.appendChild(badge);
           const style = getComputedStyle(badge);
           return style.backgroundColor + ' ' + style.color;
         });",
    )
    .await;
    let colours: Vec<&str> = colours
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut distinct = colours.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{colours:?}");

    // The first Tab lands on the skip link, shown on top of the page.
    driver
        .find(By::Tag("body"))
        .await
        .unwrap()
        .send_keys(Key::Tab)
        .await
        .unwrap();
    let skip = eval(
        driver,
        "const e = document.activeElement;
         return [e.className, e.getAttribute('href'), e.getBoundingClientRect().top];",
    )
    .await;
    assert_eq!(skip[0], "skip-link", "{skip}");
    assert_eq!(skip[1], "#content", "{skip}");
    assert!(
        skip[2].as_f64().unwrap() >= 0.0,
        "visible when focused: {skip}"
    );
    shot(driver, "skip-link-1400").await;

    // Inputs: a border of 3:1 against the page, and a ring when focused.
    open(driver, a.url(&format!("/repositories/{id}"))).await;
    let input = eval(
        driver,
        "const input = document.getElementById('name');
         const before = getComputedStyle(input).borderTopColor;
         const page = getComputedStyle(input.closest('.card') || document.body).backgroundColor;
         input.focus();
         const focused = getComputedStyle(input);
         return [before, page, focused.outlineStyle, parseFloat(focused.outlineWidth)];",
    )
    .await;
    let ratio = contrast(input[0].as_str().unwrap(), input[1].as_str().unwrap());
    assert!(ratio >= 3.0, "input border contrast {ratio:.2}: {input}");
    assert_ne!(input[2], "none", "a focus ring: {input}");
    assert!(input[3].as_f64().unwrap() >= 2.0, "{input}");
    shot(driver, "focus-ring-1400").await;

    // On a phone, the runs table is cards: rows are blocks, each cell says
    // its column, and nothing scrolls sideways.
    set_width(driver, 400).await;
    open(driver, a.url("/runs")).await;
    let cards = eval(
        driver,
        "const row = document.querySelector('table.cards tbody tr');
         const cell = row.querySelector('td[data-label]');
         return [getComputedStyle(row).display,
                 getComputedStyle(cell, '::before').content,
                 document.documentElement.scrollWidth,
                 document.documentElement.clientWidth];",
    )
    .await;
    assert_eq!(cards[0], "block", "{cards}");
    assert_ne!(
        cards[1], "none",
        "the column's name before the value: {cards}"
    );
    assert!(
        cards[2].as_f64() <= cards[3].as_f64(),
        "no sideways scroll: {cards}"
    );
    shot(driver, "runs-cards-400").await;
    browser.quit().await;
}

/// The page open in `driver` is no wider than the window.
async fn assert_no_sideways_scroll(driver: &WebDriver, path: &str, width: u32) {
    let fits = eval(
        driver,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
    )
    .await;
    assert!(
        fits[0].as_f64() <= fits[1].as_f64(),
        "{path} scrolls sideways at {width} px: {fits}"
    );
}

/// Every page of the console, on a desktop and on a phone: it has its
/// heading, nothing makes the page scroll sideways (wide tables scroll in
/// their own box or turn into cards), and a screenshot is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_fits_a_desktop_and_a_phone() {
    let Some((a, b, id)) = peers::pair(Backend::Sqlite).await else {
        return;
    };
    let admin = a.add_admin();
    add_task(&a, id, TaskSpec::default());
    peers::write_local(&b, &peers::orgs_with_offices("B", 3));
    let run = peers::run(&a, id).await;
    let Some(browser) = crate::support::browser::logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    let pages = [
        ("dashboard", "/".to_string()),
        ("repositories", "/repositories".into()),
        ("repository-new", "/repositories/new".into()),
        ("repository", format!("/repositories/{id}")),
        ("resources", format!("/repositories/{id}/resources")),
        ("schedule", format!("/repositories/{id}/schedule")),
        ("runs", "/runs".into()),
        ("run", format!("/runs/{}", run.run_id)),
        ("jobs", "/jobs".into()),
        ("review", "/review".into()),
        ("records-tables", "/records".into()),
        ("records-table", "/records/org_organisation".into()),
        ("logs", "/logs".into()),
        ("settings", "/settings".into()),
        ("users", "/users".into()),
        ("user", format!("/users/{}", admin.id)),
        ("audit", "/audit".into()),
        ("account-password", "/account/password".into()),
        ("not-found-page", "/no/such/page".into()),
    ];
    for width in [1400, 400] {
        set_width(driver, width).await;
        for (name, path) in &pages {
            open(driver, a.url(path)).await;
            assert_no_sideways_scroll(driver, path, width).await;
            shot(driver, &format!("page-{name}-{width}")).await;
        }
    }
    browser.quit().await;
}

/// A hub's dashboard, a page of its repositories: the failing one first,
/// the pager under the table, on a desktop and on a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hubs_dashboard_pages_its_repositories_on_a_desktop_and_a_phone() {
    let Some(a) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    crate::console_repositories::sixty_sites_the_last_failing(&a);
    a.add_admin();
    let Some(browser) = crate::support::browser::logged_in(&a).await else {
        return;
    };
    let driver = &browser.driver;
    for width in [1400, 400] {
        set_width(driver, width).await;
        open(driver, a.url("/?page=2")).await;
        let pager = wait_for(driver, "nav.pager").await.text().await.unwrap();
        assert!(pager.contains("51–60 of 60"), "{pager}");
        open(driver, a.url("/")).await;
        let first_row = wait_for(driver, "table.cards tbody tr")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            first_row.contains("site 59"),
            "the failing one first: {first_row}"
        );
        assert_no_sideways_scroll(driver, "/", width).await;
        driver
            .execute(
                "document.querySelector('nav.pager').scrollIntoView()",
                vec![],
            )
            .await
            .unwrap();
        shot(driver, &format!("dashboard-paged-{width}")).await;
    }
    browser.quit().await;
}
