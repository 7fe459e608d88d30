//! Reads what moto "sent": `GET /moto-api/data.json` lists SES messages under
//! `ses.Message` and SMS under `sns.SMS`.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct SentEmail {
    #[serde(default)]
    pub subject: String,
    /// moto keeps the HTML part of a message that has one.
    #[serde(rename = "body", default)]
    pub html: String,
    pub destinations: Destinations,
    pub source: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Destinations {
    #[serde(rename = "ToAddresses", default)]
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Sms {
    message: String,
    phone_number: String,
}

#[derive(Debug, Deserialize)]
struct Ses {
    #[serde(rename = "Message", default)]
    messages: Vec<SentEmail>,
}

#[derive(Debug, Deserialize)]
struct Sns {
    #[serde(rename = "SMS", default)]
    sms: Vec<Sms>,
}

#[derive(Debug, Deserialize)]
struct Data {
    ses: Option<Ses>,
    sns: Option<Sns>,
}

/// A snapshot of everything moto has sent so far.
pub struct Outbox {
    emails: Vec<SentEmail>,
    sms: Vec<Sms>,
}

impl Outbox {
    pub async fn fetch() -> Self {
        let base = crate::required_env("MOTO_URL");
        // moto serialises its state while other requests change it, and now and then
        // answers that with a 500 page: ask again, a few times.
        let mut tries = 0;
        let data: Data = loop {
            let response = reqwest::get(format!("{base}/moto-api/data.json"))
                .await
                .expect("moto answers");
            let status = response.status();
            let body = response.text().await.expect("moto's data.json reads");
            match serde_json::from_str(&body) {
                Ok(data) => break data,
                Err(error) if tries < 5 => {
                    tries += 1;
                    eprintln!("moto's data.json did not parse ({status}: {error}); again");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(error) => panic!("moto's data.json parses: {status}: {error}: {body:.300}"),
            }
        };
        Self {
            emails: data.ses.map(|s| s.messages).unwrap_or_default(),
            sms: data.sns.map(|s| s.sms).unwrap_or_default(),
        }
    }

    /// Fetches until `ready` holds of what moto has sent, for up to 20 seconds: for what is
    /// sent outside the request (reset codes go out from the table's stream).
    pub async fn wait_until(ready: impl Fn(&Self) -> bool) -> Self {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let outbox = Self::fetch().await;
            if ready(&outbox) {
                return outbox;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "what was waited for was not sent within 20 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The newest reset link sent to `email` after `before` of them: waits for it.
    pub async fn next_reset_link(email: &str, before: usize) -> String {
        let resets = |o: &Self| {
            o.emails_to(email)
                .iter()
                .filter_map(SentEmail::reset_code)
                .collect::<Vec<_>>()
        };
        let outbox = Self::wait_until(|o| resets(o).len() > before).await;
        resets(&outbox).pop().expect("a reset link")
    }

    /// How many reset links went to `email` so far.
    pub async fn reset_links_to(email: &str) -> usize {
        Self::fetch()
            .await
            .emails_to(email)
            .iter()
            .filter(|m| m.reset_code().is_some())
            .count()
    }

    /// Mails to an address, oldest first.
    pub fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        self.emails
            .iter()
            .filter(|m| {
                m.destinations
                    .to
                    .iter()
                    .any(|to| to.eq_ignore_ascii_case(address))
            })
            .cloned()
            .collect()
    }

    /// SMS texts to a number, oldest first.
    pub fn sms_to(&self, phone: &str) -> Vec<String> {
        self.sms
            .iter()
            .filter(|s| s.phone_number == phone)
            .map(|s| s.message.clone())
            .collect()
    }
}

impl SentEmail {
    /// The code in the confirmation link: what follows `CONFIRM_URL`'s prefix.
    pub fn confirm_code(&self) -> Option<String> {
        self.link_code("CONFIRM_URL")
    }

    /// The code in the password-reset link: what follows `RESET_URL`'s prefix.
    pub fn reset_code(&self) -> Option<String> {
        self.link_code("RESET_URL")
    }

    /// The code in the link that confirms a new email address: what follows
    /// `IDENTIFIER_CHANGE_URL`'s prefix.
    pub fn change_code(&self) -> Option<String> {
        self.link_code("IDENTIFIER_CHANGE_URL")
    }

    /// The code in a link built from the template in the environment variable `template`.
    fn link_code(&self, template: &str) -> Option<String> {
        let template = crate::required_env(template);
        let prefix = template.split("{code}").next().unwrap_or_default();
        let start = self.html.find(prefix)? + prefix.len();
        let code: String = self.html[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!code.is_empty()).then_some(code)
    }
}

/// The first run of exactly six digits in a text.
pub fn six_digits(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}
