//! A plugin whose check panics: the SDK's boundary must turn it into a `plugin_error` result.

use mailbeat_sdk::{async_trait, Check, CheckResult, OptionsError, Probe, ProbeContext, Target};
use std::sync::Arc;

#[derive(Default)]
struct Panics;

impl Probe for Panics {
    fn name(&self) -> &str {
        "panics"
    }

    fn configure(
        &self,
        _target: &Target,
        _options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        Ok(Arc::new(PanicCheck))
    }
}

struct PanicCheck;

#[async_trait]
impl Check for PanicCheck {
    async fn run(&self, target: &Target, _ctx: &ProbeContext) -> CheckResult {
        panic!("deliberate panic checking {}", target.name)
    }
}

mailbeat_sdk::export_plugin!(Panics::default);
