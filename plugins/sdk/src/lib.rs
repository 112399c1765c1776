//! The mailbeat probe SDK.
//!
//! Everything a probe needs to know and everything it may say lives here: the [`Target`] it checks,
//! the [`ProbeContext`] it runs in, the [`CheckResult`] it returns and the stable [`Reason`] names
//! that Prometheus rules, dashboards and webhook receivers depend on. Built-in probes and dynamic
//! plugins share these shapes (the JSON forms are the plugin wire format).

// Unsafe code is denied (workspace lint), not forbidden: the one exception is `abi`, the C ABI
// of dynamic plugins, which must read C strings and free the ones it handed out. It alone says
// `#[allow(unsafe_code)]`, with a `// SAFETY:` comment on each block.
#![deny(unsafe_code)]

pub mod abi;
pub mod login;
pub mod mechanism;
pub mod metrics;
pub mod probe;
pub mod provider;
pub mod reason;
pub mod remediation;
pub mod result;
pub mod target;
pub mod wire;

pub use async_trait::async_trait;
pub use mechanism::{SaslMechanism, UnknownMechanism};
pub use metrics::{BlackboxName, MetricDesc};
pub use probe::{
    check_once, parse_options, Check, Companion, Credentials, Locale, OptionsError, Probe,
    ProbeContext, Secret, SecretKind, Via,
};
pub use provider::Provider;
pub use reason::{Layer, Reason};
pub use result::{CheckResult, CredentialVerdict, Sample, Status};
pub use target::{Account, MailEndpoint, Protocol, Target, TlsMode};
pub use wire::CheckRequest;
