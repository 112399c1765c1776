//! Alert states in the agent: rules over the latest results, states inactive → pending →
//! firing → resolved, kept in the state database, and the webhook events they cause.

pub mod engine;
pub mod rule;

#[cfg(test)]
mod tests;
