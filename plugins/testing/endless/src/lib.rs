//! A plugin whose check never returns (a blocking endless loop, not a future the runtime could
//! cancel): the agent must give up at the timeout and keep checking other targets.

use mailbeat_sdk::{async_trait, Check, CheckResult, OptionsError, Probe, ProbeContext, Target};
use std::sync::Arc;

#[derive(Default)]
struct Endless;

impl Probe for Endless {
    fn name(&self) -> &str {
        "endless"
    }

    fn configure(
        &self,
        _target: &Target,
        _options: &serde_json::Value,
    ) -> Result<Arc<dyn Check>, OptionsError> {
        Ok(Arc::new(EndlessCheck))
    }
}

struct EndlessCheck;

#[async_trait]
impl Check for EndlessCheck {
    async fn run(&self, _target: &Target, _ctx: &ProbeContext) -> CheckResult {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

mailbeat_sdk::export_plugin!(Endless::default);
