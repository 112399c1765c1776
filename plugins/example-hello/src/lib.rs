//! A minimal dynamic plugin: a probe named `hello` that greets its target's host.

use mailbeat_sdk::{
    async_trait, parse_options, Check, CheckResult, MetricDesc, OptionsError, Probe, ProbeContext,
    Target,
};
use std::sync::Arc;

/// The probe: its name, what it declares, how it reads its options.
#[derive(Default)]
struct Hello;

/// Its options: `probes: [{plugin: hello, greeting: "Hi"}]`.
#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    greeting: Option<String>,
}

impl Probe for Hello {
    fn name(&self) -> &str {
        "hello"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn metrics(&self) -> Vec<MetricDesc> {
        vec![MetricDesc::new(
            "hello_greeting_length",
            "Length of the greeting the hello plugin sent, in bytes.",
        )]
    }

    fn configure(
        &self,
        _target: &Target,
        options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        let options: Options = parse_options(options)?;
        let greeting = options.greeting.unwrap_or_else(|| "Hello".to_string());
        if greeting.is_empty() {
            return Err(OptionsError::new("greeting: must not be empty"));
        }
        Ok(Arc::new(HelloCheck { greeting }))
    }
}

/// One target's check, its options parsed once.
struct HelloCheck {
    greeting: String,
}

#[async_trait]
impl Check for HelloCheck {
    async fn run(&self, target: &Target, _ctx: &ProbeContext) -> CheckResult {
        let text = format!("{}, {}", self.greeting, target.host);
        CheckResult::ok(text.clone()).observe("hello_greeting_length", text.len() as f64)
    }
}

mailbeat_sdk::export_plugin!(Hello::default);
