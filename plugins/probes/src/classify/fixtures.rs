//! Reads `tests/fixtures/refusals.tsv`, the real refusals (and greetings) the gathered rows are
//! written from. Shared by the classifier's unit tests and `tests/classify_real.rs` (which
//! includes this file by path), so it uses nothing of the crate.

use mailbeat_sdk::{Reason, Status};

/// How a fixture's text reaches the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An SMTP reply to AUTH (or to what follows it), as on the wire.
    Smtp,
    /// The text of an IMAP `NO` (or of a `* BYE` before the tagged reply).
    Imap,
    /// The text of an IMAP `BAD`.
    ImapBad,
    /// The text of a POP3 `-ERR`.
    Pop3,
    /// What an SMTP server sent at connect, as on the wire.
    GreetingSmtp,
    /// The IMAP greeting line.
    GreetingImap,
    /// The POP3 greeting line.
    GreetingPop3,
}

impl Kind {
    pub fn is_greeting(self) -> bool {
        matches!(
            self,
            Kind::GreetingSmtp | Kind::GreetingImap | Kind::GreetingPop3
        )
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Line number in the file, for messages.
    pub line: usize,
    /// The provider or server that sent it.
    pub who: String,
    pub kind: Kind,
    /// The target's provider preset, if any.
    pub provider: Option<String>,
    /// The reason it must classify to; `None` for a greeting that is not a refusal.
    pub reason: Option<Reason>,
    pub status: Status,
    /// The text, lines joined with "\n".
    pub text: String,
    pub source: String,
}

impl Fixture {
    /// A refusal (everything but an accepted greeting).
    pub fn is_refusal(&self) -> bool {
        self.reason.is_some()
    }

    /// For SMTP kinds: the code of the first line and the lines' texts without codes, joined with
    /// "\n" (the form the classifier reads).
    pub fn smtp(&self) -> (u16, String) {
        let mut code = 0;
        let mut texts = Vec::new();
        for (i, line) in self.text.split('\n').enumerate() {
            let digits = line.get(..3).unwrap_or_default();
            let this: u16 = digits
                .parse()
                .unwrap_or_else(|_| panic!("line {}: not an SMTP reply: {line:?}", self.line));
            if i == 0 {
                code = this;
            }
            texts.push(line.get(4..).unwrap_or_default());
        }
        (code, texts.join("\n"))
    }
}

/// The path of the table.
pub fn path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/refusals.tsv")
}

/// Every fixture. Panics, naming the line, on a malformed one.
pub fn load() -> Vec<Fixture> {
    let path = path();
    let table = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    table
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| parse(i + 1, l))
        .collect()
}

fn parse(line: usize, l: &str) -> Fixture {
    let fields: Vec<&str> = l.split('\t').collect();
    let [who, kind, provider, reason, status, text, source] = fields[..] else {
        panic!(
            "line {line}: want 7 tab-separated fields, got {}: {l:?}",
            fields.len()
        );
    };
    let kind = match kind {
        "smtp" => Kind::Smtp,
        "imap" => Kind::Imap,
        "imap_bad" => Kind::ImapBad,
        "pop3" => Kind::Pop3,
        "greeting_smtp" => Kind::GreetingSmtp,
        "greeting_imap" => Kind::GreetingImap,
        "greeting_pop3" => Kind::GreetingPop3,
        other => panic!("line {line}: unknown kind {other:?}"),
    };
    let reason = match reason {
        "ok" => None,
        name => Some(
            name.parse::<Reason>()
                .unwrap_or_else(|e| panic!("line {line}: {e}")),
        ),
    };
    let status = Status::ALL
        .iter()
        .copied()
        .find(|s| s.as_str() == status)
        .unwrap_or_else(|| panic!("line {line}: unknown status {status:?}"));
    assert!(
        reason.is_some() != (status == Status::Ok),
        "line {line}: status ok goes with reason ok, and only with it"
    );
    assert!(
        reason.is_some() || kind.is_greeting(),
        "line {line}: only a greeting can be ok"
    );
    assert!(!source.trim().is_empty(), "line {line}: no source");
    assert!(!text.is_empty(), "line {line}: no text");
    Fixture {
        line,
        who: who.to_string(),
        kind,
        provider: (provider != "-").then(|| provider.to_string()),
        reason,
        status,
        text: text.replace("\\n", "\n"),
        source: source.to_string(),
    }
}
