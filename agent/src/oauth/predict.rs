//! When will this refresh token stop working? The earliest end that the provider's policy and
//! what it told us imply, with the rule that gave it, so a person can read why.

use super::ProviderKind;
use std::time::{Duration, SystemTime};

const DAY: u64 = 24 * 60 * 60;
/// Microsoft: a refresh token unused for 90 days dies (AADSTS700082); each refresh returns a new
/// one, so the clock restarts at the last rotation.
pub const MICROSOFT_INACTIVITY: Duration = Duration::from_secs(90 * DAY);
/// Google: a refresh token unused for six months dies.
pub const GOOGLE_INACTIVITY: Duration = Duration::from_secs(183 * DAY);

/// What is known about a token set's history.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// When the grant was made (reauth, import, seed).
    pub issued_at: SystemTime,
    /// When the current refresh token was received.
    pub rotated_at: SystemTime,
    /// The last successful refresh.
    pub last_refresh: Option<SystemTime>,
    /// The end the server announced (`refresh_token_expires_in`).
    pub announced_end: Option<SystemTime>,
    /// `oauth.refresh_token_lifetime` from the config.
    pub configured_lifetime: Option<Duration>,
}

/// The predicted end and the rule behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    pub at: SystemTime,
    /// `announced` (the server said), `configured_lifetime`, `inactivity`.
    pub basis: &'static str,
}

/// The earliest end the rules give, if any rule applies.
pub fn refresh_token_end(provider: ProviderKind, h: &History) -> Option<Prediction> {
    let mut ends = Vec::new();
    if let Some(at) = h.announced_end {
        ends.push(Prediction {
            at,
            basis: "announced",
        });
    }
    if let Some(lifetime) = h.configured_lifetime {
        // A fixed lifetime (Google's Testing mode) counts from the grant, not from refreshes.
        ends.push(Prediction {
            at: h.issued_at + lifetime,
            basis: "configured_lifetime",
        });
    }
    let last_use = h.last_refresh.unwrap_or(h.rotated_at).max(h.rotated_at);
    match provider {
        ProviderKind::Microsoft => ends.push(Prediction {
            at: h.rotated_at + MICROSOFT_INACTIVITY,
            basis: "inactivity",
        }),
        ProviderKind::Google => ends.push(Prediction {
            at: last_use + GOOGLE_INACTIVITY,
            basis: "inactivity",
        }),
        ProviderKind::Generic => {}
    }
    ends.into_iter().min_by_key(|p| p.at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + days * DAY)
    }

    fn history() -> History {
        History {
            issued_at: at(0),
            rotated_at: at(0),
            last_refresh: None,
            announced_end: None,
            configured_lifetime: None,
        }
    }

    #[test]
    fn microsoft_counts_ninety_days_from_the_last_rotation() {
        let h = History {
            rotated_at: at(30),
            last_refresh: Some(at(30)),
            ..history()
        };
        let p = refresh_token_end(ProviderKind::Microsoft, &h).unwrap();
        assert_eq!((p.at, p.basis), (at(120), "inactivity"));
    }

    #[test]
    fn a_testing_mode_lifetime_counts_from_the_grant_and_wins_when_earlier() {
        let h = History {
            last_refresh: Some(at(5)),
            configured_lifetime: Some(Duration::from_secs(7 * DAY)),
            ..history()
        };
        let p = refresh_token_end(ProviderKind::Google, &h).unwrap();
        assert_eq!((p.at, p.basis), (at(7), "configured_lifetime"));
    }

    #[test]
    fn google_unused_six_months_and_an_announced_end() {
        let h = History {
            last_refresh: Some(at(10)),
            ..history()
        };
        assert_eq!(
            refresh_token_end(ProviderKind::Google, &h).unwrap().at,
            at(193)
        );
        let h = History {
            announced_end: Some(at(3)),
            ..h
        };
        assert_eq!(
            refresh_token_end(ProviderKind::Google, &h).unwrap().basis,
            "announced"
        );
        assert_eq!(refresh_token_end(ProviderKind::Generic, &history()), None);
    }
}
