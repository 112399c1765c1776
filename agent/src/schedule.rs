//! When checks run: standard 5-field cron or a fixed interval, each target shifted by a stable
//! offset so that thousands of targets on the same schedule do not start in the same second.

use chrono::{DateTime, Utc};
use std::str::FromStr;
use std::time::Duration;

/// A check schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Standard cron (`*/5 * * * *`; minute hour day-of-month month day-of-week, Sunday = 0).
    Cron {
        expr: String,
        cron: Box<croner::Cron>,
    },
    /// Every fixed interval.
    Every(Duration),
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Schedule::Cron { expr: a, .. }, Schedule::Cron { expr: b, .. }) => a == b,
            (Schedule::Every(a), Schedule::Every(b)) => a == b,
            _ => false,
        }
    }
}

impl Schedule {
    /// Parses a 5-field cron expression. Six or seven fields (seconds, years) are refused, since a
    /// 6-field expression is read differently by different tools.
    pub fn cron(expr: &str) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        if fields != 5 && !expr.trim_start().starts_with('@') {
            return Err(format!(
                "cron expression {expr:?} has {fields} fields; use the standard 5 (minute hour day-of-month month day-of-week)"
            ));
        }
        let cron = croner::Cron::from_str(expr)
            .map_err(|e| format!("invalid cron expression {expr:?}: {e}"))?;
        Ok(Schedule::Cron {
            expr: expr.to_string(),
            cron: Box::new(cron),
        })
    }

    /// A fixed interval; at least one second.
    pub fn every(interval: Duration) -> Result<Schedule, String> {
        if interval < Duration::from_secs(1) {
            return Err(format!(
                "interval {} is too short; use at least 1s",
                humantime::format_duration(interval)
            ));
        }
        Ok(Schedule::Every(interval))
    }

    /// The nominal run time strictly after `after` (without the target's offset).
    fn next_slot(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
            Schedule::Every(interval) => {
                let step = interval.as_millis().max(1) as i64;
                let now = after.timestamp_millis();
                let next = (now.div_euclid(step) + 1) * step;
                DateTime::from_timestamp_millis(next)
            }
        }
    }

    /// The typical gap between runs (for cron: between the next two occurrences).
    pub fn interval(&self, now: DateTime<Utc>) -> Duration {
        match self {
            Schedule::Every(d) => *d,
            Schedule::Cron { .. } => {
                let a = self.next_slot(now);
                let b = a.and_then(|a| self.next_slot(a));
                match (a, b) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                    _ => Duration::from_secs(60),
                }
            }
        }
    }

    /// The next run time strictly after `after` for a job whose stable offset is `fraction` (0..1)
    /// of the spread window. The window is the schedule's interval, or `max_spread` if smaller.
    pub fn next_run(
        &self,
        after: DateTime<Utc>,
        fraction: f64,
        max_spread: Option<Duration>,
    ) -> Option<DateTime<Utc>> {
        let window = match max_spread {
            Some(max) => self.interval(after).min(max),
            None => self.interval(after),
        };
        let offset = chrono::Duration::from_std(window.mul_f64(fraction.clamp(0.0, 0.999_999)))
            .unwrap_or_default();
        // The slot whose shifted time is after `after`: look from `after - offset`.
        let slot = self.next_slot(after - offset)?;
        Some(slot + offset)
    }
}

/// A stable number in 0..1 for a job key (FNV-1a): the same target always gets the same offset,
/// across restarts and machines, and different targets are spread evenly.
pub fn stable_fraction(key: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, s).unwrap() // a Monday
    }

    #[test]
    fn standard_five_field_cron_is_read_as_users_write_it() {
        // "at 09:00 on Monday" must fire on Monday, not Sunday (the `cron` crate's trap).
        let s = Schedule::cron("0 9 * * 1").unwrap();
        let next = s.next_run(at(8, 0, 0), 0.0, None).unwrap();
        assert_eq!(next, at(9, 0, 0));
        assert_eq!(next.format("%A").to_string(), "Monday");
        assert!(
            Schedule::cron("0 0 9 * * 1").is_err(),
            "6 fields are refused"
        );
        assert!(Schedule::cron("61 * * * *").is_err());
        assert!(Schedule::cron("not cron").is_err());
    }

    #[test]
    fn every_aligns_to_the_interval_plus_offset() {
        let s = Schedule::every(Duration::from_secs(300)).unwrap();
        assert_eq!(s.next_run(at(10, 1, 0), 0.0, None), Some(at(10, 5, 0)));
        // offset of half the window: 2m30s after each slot
        assert_eq!(s.next_run(at(10, 1, 0), 0.5, None), Some(at(10, 2, 30)));
        assert_eq!(s.next_run(at(10, 2, 30), 0.5, None), Some(at(10, 7, 30)));
        // spread capped at 1 minute
        assert_eq!(
            s.next_run(at(10, 1, 0), 0.5, Some(Duration::from_secs(60))),
            Some(at(10, 5, 30))
        );
        assert!(Schedule::every(Duration::from_millis(10)).is_err());
    }

    #[test]
    fn cron_offsets_stay_within_the_interval() {
        let s = Schedule::cron("*/5 * * * *").unwrap();
        assert_eq!(s.interval(at(10, 0, 0)), Duration::from_secs(300));
        let next = s.next_run(at(10, 0, 0), 0.2, None).unwrap();
        assert_eq!(next, at(10, 1, 0));
    }

    #[test]
    fn offsets_are_stable_and_spread_evenly() {
        assert_eq!(
            stable_fraction("nas-gmail/auth"),
            stable_fraction("nas-gmail/auth")
        );
        let mut buckets = [0usize; 10];
        for i in 0..10_000 {
            let f = stable_fraction(&format!("target-{i}/port"));
            assert!((0.0..1.0).contains(&f));
            buckets[(f * 10.0) as usize] += 1;
        }
        // 10,000 targets over 10 buckets: each within 15% of 1,000.
        assert!(
            buckets.iter().all(|&n| (850..=1150).contains(&n)),
            "{buckets:?}"
        );
    }
}
