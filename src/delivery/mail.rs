//! The customer's e-mail on a shop reply: threadgate's own rendition of PrestaShop's
//! `reply_msg` mail (sent by `AdminCustomerThreadsController::postProcess` when an employee
//! answers a thread in the Back Office), and its sending through the shop's SMTP settings
//! (docs/events.md, "Customer e-mail").

use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use crate::config::DeliverySettings;
use crate::db::delivery::MailContext;
use crate::db::shop::ShopSnapshot;

/// The words of the e-mail in one language.
struct Words {
    /// `{id}` and `{token}` are replaced. The `#ct`/`#tc` markers are what PrestaShop's
    /// customer-service IMAP synchronisation looks for in a customer's answer.
    subject: &'static str,
    /// `{firstname}` and `{lastname}` are replaced.
    greeting: &'static str,
    no_reply: &'static str,
    follow_link: &'static str,
}

/// The languages threadgate has words for (by `lang.iso_code`); any other gets English.
const WORDS: [(&str, Words); 5] = [
    (
        "en",
        Words {
            subject: "An answer to your message is available #ct{id} #tc{token}",
            greeting: "Hello {firstname} {lastname},",
            no_reply: "Answers to this e-mail do not reach us.",
            follow_link: "To reply, please use this link:",
        },
    ),
    (
        "fr",
        Words {
            subject: "Une réponse à votre message est disponible #ct{id} #tc{token}",
            greeting: "Bonjour {firstname} {lastname},",
            no_reply: "Les réponses à cet e-mail ne nous parviennent pas.",
            follow_link: "Pour répondre, veuillez utiliser ce lien :",
        },
    ),
    (
        "de",
        Words {
            subject: "Eine Antwort auf Ihre Nachricht liegt vor #ct{id} #tc{token}",
            greeting: "Hallo {firstname} {lastname},",
            no_reply: "Antworten auf diese E-Mail erreichen uns nicht.",
            follow_link: "Um zu antworten, nutzen Sie bitte diesen Link:",
        },
    ),
    (
        "es",
        Words {
            subject: "Hay una respuesta a su mensaje #ct{id} #tc{token}",
            greeting: "Hola {firstname} {lastname}:",
            no_reply: "Las respuestas a este correo no nos llegan.",
            follow_link: "Para responder, utilice este enlace:",
        },
    ),
    (
        "it",
        Words {
            subject: "È disponibile una risposta al tuo messaggio #ct{id} #tc{token}",
            greeting: "Ciao {firstname} {lastname},",
            no_reply: "Le risposte a questa e-mail non ci raggiungono.",
            follow_link: "Per rispondere, usa questo link:",
        },
    ),
];

fn words(iso: &str) -> &'static Words {
    WORDS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(iso))
        .map(|(_, w)| w)
        .unwrap_or(&WORDS[0].1)
}

/// A rendered e-mail (before addressing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// The e-mail for `ctx`, in the thread's language, with the shop's name and the link to the
/// thread on the shop's contact page.
pub fn render(ctx: &MailContext, shop_name: &str, link: &str) -> Rendered {
    let w = words(&ctx.iso_code);
    let subject = w
        .subject
        .replace("{id}", &ctx.thread.to_string())
        .replace("{token}", &ctx.token);
    let greeting = |first: &str, last: &str| {
        w.greeting
            .replace("{firstname}", first)
            .replace("{lastname}", last)
            .replace("  ", " ")
            .replace(" ,", ",")
            .replace(" :", ":")
    };
    let text = format!(
        "{}\n\n{}\n\n{}\n{} {}\n\n-- \n{}\n",
        greeting(&ctx.firstname, &ctx.lastname),
        ctx.message.replace("\r\n", "\n"),
        w.no_reply,
        w.follow_link,
        link,
        shop_name
    );
    // As the Back Office does for `{reply}`: entities, then line breaks as <br />.
    let reply = escape(&ctx.message.replace("\r\n", "\n")).replace('\n', "<br />\n");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; color: #333;\">\n\
         <p><strong>{greeting}</strong></p>\n<p>{reply}</p>\n\
         <p>{no_reply}<br />\n{follow} <a href=\"{link}\">{link}</a></p>\n\
         <p style=\"color: #777;\">{shop}</p>\n</body></html>\n",
        lang = escape(if ctx.iso_code.is_empty() { "en" } else { &ctx.iso_code }),
        title = escape(&subject),
        greeting = escape(&greeting(&ctx.firstname, &ctx.lastname)),
        no_reply = escape(w.no_reply),
        follow = escape(w.follow_link),
        link = escape(link),
        shop = escape(shop_name),
    );
    Rendered {
        subject,
        text,
        html,
    }
}

/// The thread's page on the shop (`Link::getPageLink('contact')` with the thread's id and
/// token, as the Back Office's reply links it): the shop's main URL, `https` when the shop
/// has `PS_SSL_ENABLED`.
pub fn thread_link(shop: &ShopSnapshot, ctx: &MailContext) -> String {
    let ssl = shop.config("PS_SSL_ENABLED", ctx.shop) == Some("1");
    let url = shop
        .urls
        .iter()
        .filter(|u| u.shop == ctx.shop)
        .max_by_key(|u| u.main);
    let base = match url {
        Some(u) if ssl => format!("https://{}{}", u.domain_ssl, u.uri),
        Some(u) => format!("http://{}{}", u.domain, u.uri),
        None => "/".to_owned(),
    };
    format!(
        "{base}index.php?controller=contact&id_customer_thread={}&token={}",
        ctx.thread, ctx.token
    )
}

/// How to reach the mail server: the settings, else the shop's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// `off`, `tls` (STARTTLS) or `ssl`.
    pub encryption: String,
    pub user: String,
    pub password: String,
}

/// Why an e-mail is not sent at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMail {
    /// `PS_MAIL_METHOD` 3: the shop sends no e-mail.
    ShopSendsNone,
}

/// The SMTP settings for `shop`. `PS_MAIL_METHOD` 2 is SMTP with the `PS_MAIL_*` values;
/// 1 (PHP's `mail()`, which hands the mail to the local mail server) becomes SMTP to
/// `localhost:25`; 3 sends nothing. Each `THREADGATE_SMTP_*` setting overrides its value.
pub fn smtp_config(
    settings: &DeliverySettings,
    shop: &ShopSnapshot,
    id_shop: u32,
) -> Result<SmtpConfig, NoMail> {
    let conf = |name: &str| shop.config(name, id_shop).unwrap_or("").trim().to_owned();
    let method = conf("PS_MAIL_METHOD");
    let overridden = settings.smtp_host.is_some();
    if method == "3" && !overridden {
        return Err(NoMail::ShopSendsNone);
    }
    let smtp = method == "2";
    let host = settings.smtp_host.clone().unwrap_or_else(|| {
        let h = conf("PS_MAIL_SERVER");
        if smtp && !h.is_empty() {
            h
        } else {
            "localhost".to_owned()
        }
    });
    let encryption = settings
        .smtp_encryption
        .clone()
        .unwrap_or_else(|| {
            if smtp {
                conf("PS_MAIL_SMTP_ENCRYPTION")
            } else {
                "off".into()
            }
        })
        .to_ascii_lowercase();
    let encryption = if encryption.is_empty() {
        "off".to_owned()
    } else {
        encryption
    };
    let port = settings.smtp_port.unwrap_or_else(|| {
        let p = conf("PS_MAIL_SMTP_PORT").parse().ok().filter(|_| smtp);
        p.unwrap_or(match encryption.as_str() {
            "ssl" => 465,
            "tls" => 587,
            _ => 25,
        })
    });
    let user = settings.smtp_user.clone().unwrap_or_else(|| {
        if smtp {
            conf("PS_MAIL_USER")
        } else {
            String::new()
        }
    });
    let password = settings.smtp_password.clone().unwrap_or_else(|| {
        if smtp {
            conf("PS_MAIL_PASSWD")
        } else {
            String::new()
        }
    });
    Ok(SmtpConfig {
        host,
        port,
        encryption,
        user,
        password,
    })
}

/// Sends one e-mail; the error is a sentence for the logs and `last_error` (never the
/// password).
pub fn send(
    smtp: &SmtpConfig,
    timeout: Duration,
    from: Mailbox,
    to: Mailbox,
    mail: &Rendered,
) -> Result<(), String> {
    let message = Message::builder()
        // `<random@this host>`, as mail servers expect of every message.
        .message_id(None)
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(mail.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(mail.html.clone()),
                ),
        )
        .map_err(|e| format!("could not build the e-mail: {e}"))?;
    let builder = match smtp.encryption.as_str() {
        "ssl" => SmtpTransport::relay(&smtp.host),
        "tls" => SmtpTransport::starttls_relay(&smtp.host),
        _ => Ok(SmtpTransport::builder_dangerous(&smtp.host)),
    }
    .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))?;
    let mut builder = builder.port(smtp.port).timeout(Some(timeout));
    if !smtp.user.is_empty() {
        builder = builder.credentials(Credentials::new(smtp.user.clone(), smtp.password.clone()));
    }
    builder
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(iso: &str) -> MailContext {
        MailContext {
            message: "Your parcel left today.\nTracking: <b>42</b> & co".into(),
            thread: 7,
            email: "jane@example.com".into(),
            token: "abcdef123456".into(),
            lang: 1,
            shop: 1,
            firstname: "Jane".into(),
            lastname: "Doe".into(),
            contact_email: "care@shop.example".into(),
            contact_name: "Customer service".into(),
            iso_code: iso.into(),
        }
    }

    fn shop(rows: &[(&str, Option<u32>, &str)]) -> ShopSnapshot {
        ShopSnapshot {
            shops: vec![crate::db::shop::Shop {
                id: 1,
                group: 1,
                active: true,
                name: "Shop".into(),
            }],
            config: rows
                .iter()
                .map(|(name, shop, value)| crate::db::shop::ConfigRow {
                    name: (*name).into(),
                    shop_group: None,
                    shop: *shop,
                    value: Some((*value).into()),
                })
                .collect(),
            ..ShopSnapshot::default()
        }
    }

    fn settings() -> DeliverySettings {
        #[derive(clap::Parser)]
        struct Args {
            #[command(flatten)]
            delivery: DeliverySettings,
        }
        <Args as clap::Parser>::parse_from(["test"]).delivery
    }

    #[test]
    fn smtp_settings_come_from_the_shop_unless_overridden() {
        let smtp = shop(&[
            ("PS_MAIL_METHOD", None, "2"),
            ("PS_MAIL_SERVER", None, "smtp.example.com"),
            ("PS_MAIL_SMTP_PORT", None, "2525"),
            ("PS_MAIL_SMTP_ENCRYPTION", None, "tls"),
            ("PS_MAIL_USER", None, "shop"),
            ("PS_MAIL_PASSWD", None, "secret"),
            // The shop's own row wins over the global one.
            ("PS_MAIL_SERVER", Some(1), "smtp.shop1.example.com"),
        ]);
        assert_eq!(
            smtp_config(&settings(), &smtp, 1),
            Ok(SmtpConfig {
                host: "smtp.shop1.example.com".into(),
                port: 2525,
                encryption: "tls".into(),
                user: "shop".into(),
                password: "secret".into(),
            })
        );
        let mut over = settings();
        over.smtp_host = Some("127.0.0.1".into());
        over.smtp_port = Some(1025);
        over.smtp_encryption = Some("off".into());
        let c = smtp_config(&over, &smtp, 1).unwrap();
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.encryption.as_str(),
                c.user.as_str()
            ),
            ("127.0.0.1", 1025, "off", "shop")
        );
        // PHP's mail(): the local mail server; 3: the shop sends nothing.
        let php = smtp_config(
            &settings(),
            &shop(&[
                ("PS_MAIL_METHOD", None, "1"),
                ("PS_MAIL_SERVER", None, "ignored"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(
            (
                php.host.as_str(),
                php.port,
                php.encryption.as_str(),
                php.user.as_str()
            ),
            ("localhost", 25, "off", "")
        );
        assert_eq!(
            smtp_config(&settings(), &shop(&[("PS_MAIL_METHOD", None, "3")]), 1),
            Err(NoMail::ShopSendsNone)
        );
        // ssl without a port: 465.
        let ssl = smtp_config(
            &settings(),
            &shop(&[
                ("PS_MAIL_METHOD", None, "2"),
                ("PS_MAIL_SERVER", None, "h"),
                ("PS_MAIL_SMTP_ENCRYPTION", None, "SSL"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!((ssl.port, ssl.encryption.as_str()), (465, "ssl"));
    }

    #[test]
    fn the_link_is_the_shops_contact_page_with_the_threads_token() {
        let mut s = shop(&[("PS_SSL_ENABLED", None, "1")]);
        s.urls = vec![crate::db::shop::ShopUrl {
            shop: 1,
            domain: "shop.example".into(),
            domain_ssl: "secure.shop.example".into(),
            uri: "/fr/".into(),
            main: true,
        }];
        assert_eq!(
            thread_link(&s, &ctx("fr")),
            "https://secure.shop.example/fr/index.php?controller=contact&id_customer_thread=7&token=abcdef123456"
        );
        s.config.clear();
        assert_eq!(
            thread_link(&s, &ctx("fr")),
            "http://shop.example/fr/index.php?controller=contact&id_customer_thread=7&token=abcdef123456"
        );
    }

    #[test]
    fn the_reply_is_rendered_in_the_threads_language_with_its_markers() {
        let link = "https://shop.example/index.php?controller=contact&id_customer_thread=7&token=abcdef123456";
        let en = render(&ctx("en"), "My Shop", link);
        assert_eq!(
            en.subject,
            "An answer to your message is available #ct7 #tcabcdef123456"
        );
        assert_eq!(
            en.text,
            format!(
                "Hello Jane Doe,\n\nYour parcel left today.\nTracking: <b>42</b> & co\n\n\
                 Answers to this e-mail do not reach us.\nTo reply, please use this link: {link}\n\n-- \nMy Shop\n"
            )
        );
        assert!(en.html.contains(
            "<p>Your parcel left today.<br />\nTracking: &lt;b&gt;42&lt;/b&gt; &amp; co</p>"
        ));
        let fr = render(&ctx("fr"), "My Shop", link);
        assert_eq!(
            fr.subject,
            "Une réponse à votre message est disponible #ct7 #tcabcdef123456"
        );
        assert!(fr.text.starts_with("Bonjour Jane Doe,\n"));
        // A language without words gets English.
        assert_eq!(render(&ctx("pl"), "My Shop", link).subject, en.subject);
        // A guest (no customer row) is greeted without names, and without stray spaces.
        let mut guest = ctx("en");
        guest.firstname.clear();
        guest.lastname.clear();
        assert!(render(&guest, "My Shop", link).text.starts_with("Hello,\n"));
    }
}
