//! Headless Chromium for console tests, driven through chromedriver.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    /// Start chromedriver and a headless Chromium; `None` (after a loud
    /// message) when they are not installed.
    pub async fn start() -> Option<Browser> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            super::skip_or_fail("chromium and chromedriver not installed: browser test skipped");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).unwrap();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        // Under load (two test threads, each with a browser) the first
        // session can fail to start in time: try a few times.
        let mut tries = 0;
        let driver = loop {
            tries += 1;
            match WebDriver::new(format!("http://127.0.0.1:{port}"), caps.clone()).await {
                Ok(driver) => break driver,
                Err(e) if tries < 3 => {
                    eprintln!("a Chromium session did not start ({e}); trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => panic!("start a Chromium session: {e}"),
            }
        };
        Some(Browser {
            driver,
            chromedriver,
            _profile: profile,
        })
    }

    pub async fn quit(self) {
        let Browser {
            driver,
            mut chromedriver,
            ..
        } = self;
        let _ = driver.quit().await;
        let _ = chromedriver.kill();
        let _ = chromedriver.wait();
    }
}

/// `target/screenshots/`, where console tests leave their pictures.
pub fn screenshots() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A screenshot of the page as it is, checked to be a real picture.
pub async fn shot(driver: &WebDriver, name: &str) {
    let path = screenshots().join(format!("{name}.png"));
    driver.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 5_000,
        "a real screenshot of {name}"
    );
}

pub async fn wait_for(driver: &WebDriver, css: &str) -> WebElement {
    driver
        .query(By::Css(css))
        .wait(Duration::from_secs(20), Duration::from_millis(100))
        .first()
        .await
        .unwrap_or_else(|_| panic!("{css} did not appear"))
}

pub async fn wait_for_text(driver: &WebDriver, text: &str) {
    for _ in 0..200 {
        if driver.source().await.unwrap().contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page never showed {text:?}: {}",
        driver.source().await.unwrap()
    );
}

pub async fn type_into(driver: &WebDriver, id: &str, text: &str) {
    let field = driver.find(By::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Log in as the test administrator through the form; waits for the
/// dashboard.
pub async fn log_in(driver: &WebDriver, app: &super::TestApp) {
    driver.goto(app.url("/login")).await.unwrap();
    type_into(driver, "email", super::ADMIN_EMAIL).await;
    type_into(driver, "password", super::ADMIN_PASSWORD).await;
    click(driver, "form[action='/login'] button[type='submit']").await;
    wait_for(driver, "#site-uuid").await;
}

/// A browser logged in to `app` as the test administrator, on the
/// dashboard; `None` when no browser is installed (the skip was announced).
pub async fn logged_in(app: &super::TestApp) -> Option<Browser> {
    let browser = Browser::start().await?;
    log_in(&browser.driver, app).await;
    Some(browser)
}

/// Go to `url` and wait until its page is there (every console page has a
/// heading in `main`): under load, reading the page right after `goto` can
/// catch it half built.
pub async fn open(driver: &WebDriver, url: impl Into<String>) {
    driver.goto(url.into()).await.unwrap();
    wait_for(driver, "main h1").await;
}

/// Click the first element matching `css`.
pub async fn click(driver: &WebDriver, css: impl Into<String>) {
    let css = css.into();
    driver
        .find(By::Css(css.clone()))
        .await
        .unwrap_or_else(|_| panic!("nothing matches {css}"))
        .click()
        .await
        .unwrap();
}

/// The text of the element with id `id`, once it is there (after a click
/// the next page may still be on its way).
pub async fn text_of(driver: &WebDriver, id: &str) -> String {
    wait_for(driver, &format!("#{id}"))
        .await
        .text()
        .await
        .unwrap()
}

/// The window's width in CSS pixels (desktop 1400, phone 400).
pub async fn set_width(driver: &WebDriver, width: u32) {
    driver.set_window_rect(0, 0, width, 900).await.unwrap();
}

/// The message the click brought, once the new page shows one with `needle`
/// (the page before may still be there for a moment).
pub async fn flash(driver: &WebDriver, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..300 {
        if let Ok(found) = driver.find_all(By::Css(".flash")).await {
            for element in found {
                if let Ok(text) = element.text().await {
                    if text.contains(needle) {
                        return text;
                    }
                    last = text;
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no message with {needle:?}; last seen: {last:?}");
}
