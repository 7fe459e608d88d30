//! A user at the local OpenID provider (`tools/oidc-provider`, panva's oidc-provider with its
//! development login and consent pages): a browser-like client with a cookie jar of its own
//! that follows the provider's redirects, fills its forms, and stops at the service's
//! callback, the way a person's browser would.

use reqwest::header::LOCATION;

/// Signs in at the provider from `authorization_url` as `login` (any name signs in; `deny`
/// refuses), consents, and answers the URL the provider then sends the browser to: the
/// first one that starts with `callback`.
pub async fn sign_in_at_provider(authorization_url: &str, login: &str, callback: &str) -> String {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let mut url = reqwest::Url::parse(authorization_url).expect("an authorization URL");
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..20 {
        if url.as_str().starts_with(callback) {
            return url.to_string();
        }
        let request = match form.take() {
            Some(fields) => client.post(url.clone()).form(&fields),
            None => client.get(url.clone()),
        };
        let response = request.send().await.expect("the provider answers");
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()[LOCATION].to_str().expect("a location");
            url = url.join(location).expect("a redirect URL");
            continue;
        }
        assert!(
            status.is_success(),
            "the provider answered {status} at {url}"
        );
        let page = response.text().await.expect("a page");
        let (action, fields) =
            form_of(&page, login).unwrap_or_else(|| panic!("no form at {url}: {page}"));
        url = url.join(&action).expect("a form action");
        form = Some(fields);
    }
    panic!("the provider never sent the browser to {callback}");
}

/// The first form of a page: its action and its fields, `login` and `password` filled in.
fn form_of(page: &str, login: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = page.find("<form")?;
    let end = page[start..].find("</form>")? + start;
    let form = &page[start..end];
    let action = attribute(form, "action")?;
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find("<input") {
        let tag_end = rest[at..].find('>')? + at;
        let tag = &rest[at..tag_end];
        if let Some(name) = attribute(tag, "name") {
            let value = match name.as_str() {
                "login" => login.to_owned(),
                "password" => "any password".to_owned(),
                _ => attribute(tag, "value").unwrap_or_default(),
            };
            fields.push((name, value));
        }
        rest = &rest[tag_end..];
    }
    Some((action.replace("&amp;", "&"), fields))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let at = tag.find(&key)? + key.len();
    let end = tag[at..].find('"')? + at;
    Some(tag[at..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_development_login_form() {
        let page = r#"<form autocomplete="off" action="/interaction/abc" method="post">
            <input type="hidden" name="prompt" value="login"/>
            <input required type="text" name="login" placeholder="Enter any login"/>
            <input required type="password" name="password"/>
            <button type="submit">Sign-in</button></form>"#;
        let (action, fields) = form_of(page, "alice").unwrap();
        assert_eq!(action, "/interaction/abc");
        assert_eq!(
            fields,
            [
                ("prompt".to_owned(), "login".to_owned()),
                ("login".to_owned(), "alice".to_owned()),
                ("password".to_owned(), "any password".to_owned()),
            ]
        );
    }
}
