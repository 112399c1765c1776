//! Webhooks: the payloads, their signature, and the deliverer that empties the durable outbox.

pub mod deliver;
pub mod payload;
pub mod sign;
