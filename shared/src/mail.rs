//! Mail through SES v2 as Simple content (a text and an HTML part). Links are built from the
//! configured base URL only, never from request headers, and carry their token as one
//! `?token=` query parameter.

use anyhow::Context;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::email::Email;
use crate::opaque_token::OpaqueToken;

/// What a message says; each variant renders its own subject and bodies.
#[derive(Debug)]
pub enum Mail {
    VerifyEmail { link: url::Url },
    RegistrationAttempt { reset_page: url::Url },
    PasswordReset { link: url::Url },
    PasswordChanged { reset_page: url::Url },
}

struct Rendered {
    subject: &'static str,
    text: String,
    html: String,
}

impl Mail {
    fn render(&self) -> Rendered {
        match self {
            Self::VerifyEmail { link } => Rendered {
                subject: "Confirm your CapeControl email address",
                text: format!(
                    "Welcome to CapeControl.\n\nConfirm your email address by opening this \
                     link:\n{link}\n\nIf you did not create an account, ignore this message."
                ),
                html: html_page(
                    "Welcome to CapeControl.",
                    "Confirm your email address:",
                    Some(("Confirm email address", link)),
                    "If you did not create an account, ignore this message.",
                ),
            },
            Self::RegistrationAttempt { reset_page } => Rendered {
                subject: "Someone tried to register with your email address",
                text: format!(
                    "Someone tried to create a CapeControl account with this address, which \
                     already has one. Nothing was changed.\n\nIf it was you and you forgot \
                     your password, reset it here:\n{reset_page}"
                ),
                html: html_page(
                    "Someone tried to create a CapeControl account with this address, which \
                     already has one. Nothing was changed.",
                    "If it was you and you forgot your password:",
                    Some(("Reset your password", reset_page)),
                    "If it was not you, you need not do anything.",
                ),
            },
            Self::PasswordReset { link } => Rendered {
                subject: "Reset your CapeControl password",
                text: format!(
                    "Someone asked to reset the password of your CapeControl account.\n\nChoose \
                     a new password here (the link works once, for a short time):\n{link}\n\n\
                     If it was not you, ignore this message; your password stays as it is."
                ),
                html: html_page(
                    "Someone asked to reset the password of your CapeControl account.",
                    "The link works once, for a short time:",
                    Some(("Choose a new password", link)),
                    "If it was not you, ignore this message; your password stays as it is.",
                ),
            },
            Self::PasswordChanged { reset_page } => Rendered {
                subject: "Your CapeControl password was changed",
                text: format!(
                    "The password of your CapeControl account was changed and every other \
                     session was signed out.\n\nIf you did not do this, reset your password \
                     now:\n{reset_page}"
                ),
                html: html_page(
                    "The password of your CapeControl account was changed and every other \
                     session was signed out.",
                    "If you did not do this, reset your password now:",
                    Some(("Reset your password", reset_page)),
                    "",
                ),
            },
        }
    }
}

fn html_page(intro: &str, lead: &str, button: Option<(&str, &url::Url)>, outro: &str) -> String {
    let link = button.map_or_else(String::new, |(label, url)| {
        let href = escape(url.as_str());
        format!(
            "<p><a href=\"{href}\">{}</a></p><p>{href}</p>",
            escape(label)
        )
    });
    format!(
        "<!doctype html><html><body><p>{}</p><p>{}</p>{link}<p>{}</p></body></html>",
        escape(intro),
        escape(lead),
        escape(outro)
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Links into the web app, from the configured base URL.
#[derive(Debug, Clone)]
pub struct Links {
    base: url::Url,
}

impl Links {
    pub fn new(base: url::Url) -> Self {
        Self { base }
    }

    pub fn page(&self, path: &str) -> url::Url {
        let mut url = self.base.clone();
        let joined = format!(
            "{}/{}",
            url.path().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url.set_path(&joined);
        url
    }

    pub fn with_token(&self, path: &str, token: &OpaqueToken) -> url::Url {
        let mut url = self.page(path);
        url.query_pairs_mut().append_pair("token", token.expose());
        url
    }
}

#[derive(Debug)]
pub struct Mailer {
    client: aws_sdk_sesv2::Client,
    sender: String,
    /// A moving average of how long a send takes, in microseconds: paths that send nothing
    /// wait this long, so that timing does not tell whether an account exists.
    typical_send_micros: AtomicU64,
}

impl Mailer {
    pub fn new(client: aws_sdk_sesv2::Client, sender: String) -> Self {
        Self {
            client,
            sender,
            typical_send_micros: AtomicU64::new(50_000),
        }
    }

    pub async fn send(&self, to: &Email, mail: &Mail) -> anyhow::Result<()> {
        let started = Instant::now();
        let result = self.send_now(to, mail).await;
        self.learn(started.elapsed());
        result
    }

    async fn send_now(&self, to: &Email, mail: &Mail) -> anyhow::Result<()> {
        let rendered = mail.render();
        let content = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(content(rendered.subject)?)
            .body(
                Body::builder()
                    .text(content(&rendered.text)?)
                    .html(content(&rendered.html)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sesv2::error::DisplayErrorContext(&e)))
            .context("send mail through SES")?;
        Ok(())
    }

    /// Spends about the time a send takes, without sending.
    pub async fn send_nothing(&self) {
        let micros = self.typical_send_micros.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(micros)).await;
    }

    fn learn(&self, took: Duration) {
        let sample = u64::try_from(took.as_micros())
            .unwrap_or(u64::MAX)
            .min(2_000_000);
        let old = self.typical_send_micros.load(Ordering::Relaxed);
        self.typical_send_micros
            .store((old * 7 + sample) / 8, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_join_the_base_path_and_carry_one_token_parameter() {
        let token = OpaqueToken::generate().expect("random");
        let links = Links::new("https://app.example.com/portal/".parse().expect("url"));
        let link = links.with_token("/verify-email", &token);
        assert_eq!(link.path(), "/portal/verify-email");
        let pairs: Vec<_> = link.query_pairs().collect();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0, "token");
        assert_eq!(pairs[0].1, token.expose());
        assert_eq!(link.host_str(), Some("app.example.com"));
    }

    #[test]
    fn every_mail_has_a_subject_and_both_bodies_with_the_link() {
        let link: url::Url = "https://app.example.com/reset-password?token=abc"
            .parse()
            .expect("url");
        for mail in [
            Mail::VerifyEmail { link: link.clone() },
            Mail::PasswordReset { link: link.clone() },
            Mail::RegistrationAttempt {
                reset_page: link.clone(),
            },
            Mail::PasswordChanged {
                reset_page: link.clone(),
            },
        ] {
            let rendered = mail.render();
            assert!(!rendered.subject.is_empty());
            assert!(rendered.text.contains(link.as_str()));
            assert!(rendered.html.contains(link.as_str()));
        }
    }

    #[test]
    fn html_escapes_what_it_embeds() {
        let link: url::Url = "https://app.example.com/p?token=a&x=<b>"
            .parse()
            .expect("url");
        let html = html_page("a<b", "c", Some(("d", &link)), "e");
        assert!(html.contains("a&lt;b"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("token=a&amp;x="));
    }
}
