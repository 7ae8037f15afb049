//! Counts of what went through the pipeline, per organisation and OCSF class/activity, so that
//! fetched = delivered + dead-lettered can be checked (and later exported as metrics).

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// An OCSF class and activity: what delivered records are counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassActivity {
    /// `class_uid`.
    pub class_uid: u32,
    /// The class's snake-case schema name (`authentication`).
    pub class_name: &'static str,
    /// `activity_id`.
    pub activity_id: i32,
}

/// Counts for one batch, merged into [`PipelineStats`] when the batch is acknowledged.
#[derive(Debug, Default)]
pub struct BatchCounts {
    /// Events fetched in the batch.
    pub fetched: u64,
    /// Delivered records by class and activity.
    pub delivered: BTreeMap<ClassActivity, u64>,
    /// Events dead-lettered because they could not be mapped.
    pub dead_lettered_map: u64,
    /// Records dead-lettered because they could not be encoded or were too large.
    pub dead_lettered_encode: u64,
}

/// Totals of one organisation.
#[derive(Debug, Default, Clone)]
pub struct OrgTotals {
    /// Events fetched (after dedup).
    pub fetched: u64,
    /// Records delivered to their class topic/file.
    pub delivered: u64,
    /// Dead letters (map + encode).
    pub dead_lettered: u64,
    /// Dead letters because the event could not be mapped.
    pub dead_lettered_map: u64,
    /// Dead letters because the record could not be encoded or was too large.
    pub dead_lettered_encode: u64,
    /// Batches acknowledged to the fetcher.
    pub batches_acked: u64,
}

/// Pipeline-wide counters.
#[derive(Debug)]
pub struct PipelineStats {
    inner: Mutex<StatsInner>,
    /// Seconds from handing a record to the sink to its acknowledgement (retries included).
    pub delivery_latency: Histogram,
    /// The inventory snapshots' counters.
    pub inventory: crate::inventory::InventoryStats,
    /// The audit's counters and findings.
    pub audit: crate::audit::AuditStats,
}

impl Default for PipelineStats {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            delivery_latency: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            inventory: crate::inventory::InventoryStats::default(),
            audit: crate::audit::AuditStats::default(),
        }
    }
}

#[derive(Debug, Default)]
struct StatsInner {
    per_org: BTreeMap<String, OrgTotals>,
    per_class: BTreeMap<ClassActivity, u64>,
    per_org_class: BTreeMap<(String, &'static str), u64>,
    org_errors: BTreeMap<String, Option<String>>,
}

impl PipelineStats {
    /// Adds an acknowledged batch.
    pub fn add_batch(&self, org_id: &str, counts: BatchCounts) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let delivered: u64 = counts.delivered.values().sum();
        for (key, n) in counts.delivered {
            *inner.per_class.entry(key).or_default() += n;
            *inner
                .per_org_class
                .entry((org_id.to_string(), key.class_name))
                .or_default() += n;
        }
        let org = inner.per_org.entry(org_id.to_string()).or_default();
        org.fetched += counts.fetched;
        org.delivered += delivered;
        org.dead_lettered += counts.dead_lettered_map + counts.dead_lettered_encode;
        org.dead_lettered_map += counts.dead_lettered_map;
        org.dead_lettered_encode += counts.dead_lettered_encode;
        org.batches_acked += 1;
    }

    /// Totals per organisation.
    pub fn per_org(&self) -> BTreeMap<String, OrgTotals> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .per_org
            .clone()
    }

    /// Delivered records per class and activity.
    pub fn per_class(&self) -> BTreeMap<ClassActivity, u64> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .per_class
            .clone()
    }

    /// Delivered records per (organisation, class_name).
    pub fn per_org_class(&self) -> BTreeMap<(String, &'static str), u64> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .per_org_class
            .clone()
    }

    /// Records the state of an organisation's source: `Some(error)` after a failed fetch,
    /// `None` after a successful one.
    pub fn set_org_error(&self, org_id: &str, error: Option<String>) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        inner.org_errors.insert(org_id.to_string(), error);
    }

    /// Organisations whose last fetch failed, with the error; and those that have fetched
    /// successfully at least once.
    pub fn org_states(&self) -> BTreeMap<String, Option<String>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .org_errors
            .clone()
    }

    /// Sum over organisations.
    pub fn totals(&self) -> OrgTotals {
        let per_org = self.per_org();
        per_org.values().fold(OrgTotals::default(), |mut sum, org| {
            sum.fetched += org.fetched;
            sum.delivered += org.delivered;
            sum.dead_lettered += org.dead_lettered;
            sum.batches_acked += org.batches_acked;
            sum
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHENTICATION_LOGON: ClassActivity = ClassActivity {
        class_uid: 3002,
        class_name: "authentication",
        activity_id: 1,
    };

    #[test]
    fn batches_add_up_per_org_and_class() {
        let stats = PipelineStats::default();
        let mut a = BatchCounts {
            fetched: 3,
            dead_lettered_map: 1,
            ..Default::default()
        };
        a.delivered.insert(AUTHENTICATION_LOGON, 2);
        let mut b = BatchCounts {
            fetched: 2,
            dead_lettered_encode: 1,
            ..Default::default()
        };
        b.delivered.insert(AUTHENTICATION_LOGON, 1);
        stats.add_batch("org1", a);
        stats.add_batch("org2", b);
        let totals = stats.totals();
        assert_eq!(
            (totals.fetched, totals.delivered, totals.dead_lettered),
            (5, 3, 2)
        );
        assert_eq!(totals.fetched, totals.delivered + totals.dead_lettered);
        let authentication_logon = ClassActivity {
            class_uid: 3002,
            class_name: "authentication",
            activity_id: 1,
        };
        assert_eq!(stats.per_class()[&authentication_logon], 3);
        assert_eq!(stats.per_org()["org1"].batches_acked, 1);
    }
}
