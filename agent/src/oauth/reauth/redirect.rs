//! The authorization server's answer on the redirect URI (RFC 6749 §4.1.2): `code` and `state`,
//! or `error` (`access_denied` when the person said no). Read from the loopback listener's
//! request, or from a URL a person pasted back into the status page. Never panics, whatever
//! the text; no message ever repeats the code.

use mailbeat_sdk::Secret;

/// The longest pasted text or query read (an authorization answer is well under 2 KiB).
pub const MAX_LEN: usize = 16 * 1024;

/// The parameters of an answer, as sent.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why an answer gives no code to exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the authorization was declined at the provider (access_denied): nothing stored")]
    Denied,
    #[error("the authorization server answered {error}{}: nothing stored", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Error {
        error: String,
        description: Option<String>,
    },
    #[error("the answer has no state parameter: refused, nothing stored")]
    MissingState,
    #[error("the answer's state does not match this authorization attempt (an older or someone else's sign-in?): refused, nothing stored")]
    StateMismatch,
}

/// Why a pasted text is not an authorization answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasteError {
    #[error("nothing was pasted")]
    Empty,
    #[error("the pasted text is too long to be an authorization answer")]
    TooLong,
    #[error("the pasted text has no code or error parameter: paste the whole address the browser ended on (it starts with the redirect URI and contains code= and state=)")]
    NoAnswer,
}

impl Answer {
    /// The answer in a query string (`code=…&state=…`); `None` when it has neither a code nor
    /// an error (a favicon request, a page reload without parameters, garbage).
    pub fn from_query(query: &str) -> Option<Answer> {
        if query.len() > MAX_LEN {
            return None;
        }
        let mut a = Answer::default();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            // The first of each wins: a later copy cannot override what the server sent.
            match k.as_ref() {
                "code" if a.code.is_none() && !v.is_empty() => a.code = Some(Secret::new(v)),
                "state" if a.state.is_none() => a.state = Some(v.into_owned()),
                "error" if a.error.is_none() && !v.is_empty() => a.error = Some(clean(&v, 64)),
                "error_description" if a.error_description.is_none() => {
                    a.error_description = Some(clean(&v, 200))
                }
                _ => {}
            }
        }
        (a.code.is_some() || a.error.is_some()).then_some(a)
    }

    /// The answer in what a person pasted: the whole address the browser ended on, or just its
    /// query (with or without the `?`). A fragment (`#code=…`, `response_mode=fragment`) is read
    /// when the query has no answer.
    pub fn from_pasted(text: &str) -> Result<Answer, PasteError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PasteError::Empty);
        }
        if text.len() > MAX_LEN {
            return Err(PasteError::TooLong);
        }
        let (before_fragment, fragment) = match text.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (text, None),
        };
        let query = match before_fragment.split_once('?') {
            Some((_, q)) => q,
            // No `?`: a bare query (`code=…&state=…`), or an address without one.
            None if before_fragment.contains('=') && !before_fragment.contains("://") => {
                before_fragment
            }
            None => "",
        };
        Answer::from_query(query)
            .or_else(|| fragment.and_then(Answer::from_query))
            .ok_or(PasteError::NoAnswer)
    }

    /// The code, when the answer is a grant for the attempt whose state is `expected`.
    pub fn verify(self, expected: &str) -> Result<Secret, Refused> {
        match (&self.state, &self.code, &self.error) {
            // An error names the attempt too when it carries a state; a mismatch is not ours.
            (Some(s), _, _) if !crate::oauth::pkce::same(s, expected) => {
                Err(Refused::StateMismatch)
            }
            (_, _, Some(e)) if e == "access_denied" => Err(Refused::Denied),
            (_, _, Some(e)) => Err(Refused::Error {
                error: e.clone(),
                description: self.error_description.clone(),
            }),
            (None, _, None) => Err(Refused::MissingState),
            (Some(_), Some(code), None) => Ok(code.clone()),
            (Some(_), None, None) => Err(Refused::MissingState),
        }
    }
}

/// Provider text for a message: printable characters only, at most `max` of them.
fn clean(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_redirect_url_gives_the_code_when_the_state_matches() {
        let a = Answer::from_pasted(
            "  http://127.0.0.1:41234/?state=st-1&code=4%2F0AbC-def&scope=email%20openid\n",
        )
        .unwrap();
        assert_eq!(a.state.as_deref(), Some("st-1"));
        assert_eq!(a.clone().verify("st-1").unwrap().expose(), "4/0AbC-def");
        assert_eq!(a.verify("st-2").unwrap_err(), Refused::StateMismatch);
    }

    #[test]
    fn a_bare_query_and_a_fragment_are_read_too() {
        let a = Answer::from_pasted("?code=c1&state=s").unwrap();
        assert_eq!(a.verify("s").unwrap().expose(), "c1");
        let a = Answer::from_pasted("code=c2&state=s").unwrap();
        assert_eq!(a.verify("s").unwrap().expose(), "c2");
        let a = Answer::from_pasted("http://127.0.0.1:1/#code=c3&state=s").unwrap();
        assert_eq!(a.verify("s").unwrap().expose(), "c3");
    }

    #[test]
    fn garbage_is_no_answer_and_never_panics() {
        for junk in [
            "",
            "   ",
            "hello",
            "http://127.0.0.1:1/",
            "http://127.0.0.1:1/favicon.ico",
            "https://accounts.example/?foo=bar",
            "%%%?&&&==",
            "?code=&state=x",
            "\u{0}\u{7f}?#?#",
            "://?",
        ] {
            assert!(Answer::from_pasted(junk).is_err(), "{junk:?}");
        }
        assert_eq!(
            Answer::from_pasted(&"a".repeat(MAX_LEN + 1)).unwrap_err(),
            PasteError::TooLong
        );
        assert!(Answer::from_query("").is_none());
        assert!(Answer::from_query("x=%ZZ&code").is_none());
        // Arbitrary bytes through the parser.
        for n in 0..2000u32 {
            let s: String = (0..(n % 40))
                .map(|i| char::from_u32((n * 31 + i * 7) % 0x80).unwrap_or('?'))
                .collect();
            let _ = Answer::from_pasted(&s).map(|a| a.verify("s"));
        }
    }

    #[test]
    fn a_code_without_a_state_is_refused() {
        let a = Answer::from_query("code=abc").unwrap();
        assert_eq!(a.verify("s").unwrap_err(), Refused::MissingState);
        let a = Answer::from_query("code=abc&state=").unwrap();
        assert_eq!(a.verify("s").unwrap_err(), Refused::StateMismatch);
    }

    #[test]
    fn errors_are_named_and_the_code_never_appears_in_a_message() {
        let a = Answer::from_query("error=access_denied&state=s").unwrap();
        assert_eq!(a.verify("s").unwrap_err(), Refused::Denied);
        let a = Answer::from_query(
            "error=invalid_scope&error_description=AADSTS70011%3A+bad%0Ascope&state=s",
        )
        .unwrap();
        let e = a.verify("s").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the authorization server answered invalid_scope (AADSTS70011: bad scope): nothing stored"
        );
        // A denial with someone else's state is not this attempt's.
        let a = Answer::from_query("error=access_denied&state=other").unwrap();
        assert_eq!(a.verify("s").unwrap_err(), Refused::StateMismatch);
        let a = Answer::from_query("code=SECRETCODE&state=other").unwrap();
        let shown = format!("{:?} {}", a, a.clone().verify("s").unwrap_err());
        assert!(!shown.contains("SECRETCODE"), "{shown}");
    }

    #[test]
    fn the_first_copy_of_a_parameter_wins() {
        let a = Answer::from_query("state=s&code=c&state=evil&code=planted").unwrap();
        assert_eq!(a.verify("s").unwrap().expose(), "c");
    }
}
