//! A console client for the benchmarks: logged in as a browser would be
//! (the login form's CSRF token, the session cookie kept).

/// A client logged in on `base` as `email`.
pub async fn logged_in(base: &str, email: &str, password: &str) -> reqwest::Client {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = form.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    let csrf = &form[start..start + form[start..].find('"').unwrap()];
    let answer = client
        .post(format!("{base}/login"))
        .form(&[("csrf", csrf), ("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303, "login");
    client
}
