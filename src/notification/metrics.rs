//! [`MetricsReport`]: the WebRTC metrics JSON text, parsed lazily once.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A WebRTC metrics report (`metrics_report`, 12): the server's JSON text, parsed on first use.
///
/// The schema is not stable across server versions, so it is exposed as a [`serde_json::Value`]:
/// an object of global counters plus nested `"room_id=…"` → `"endpoint_id=…"` → `"track_id=…"`
/// objects. Cloning is one reference-count increment, and the parse is shared by every clone, so
/// fanning a large report out to many subscribers parses it at most once.
///
/// Serializes as `{"type":"metrics_report","metrics":<the parsed JSON, or the raw text as a string
/// if it is not valid JSON>}`.
///
/// ```
/// use jellyfish_notifier::MetricsReport;
///
/// let report = MetricsReport::new(r#"{"room_id=r1":{"endpoint_id=p1":{"track_id=t1":{"bytes":5}}}}"#);
/// let value = report.json().unwrap();
/// assert_eq!(value["room_id=r1"]["endpoint_id=p1"]["track_id=t1"]["bytes"], 5);
/// ```
#[derive(Clone, actix::Message)]
#[rtype(result = "()")]
pub struct MetricsReport(Arc<MetricsInner>);

struct MetricsInner {
    raw: Box<str>,
    parsed: OnceLock<Result<serde_json::Value, serde_json::Error>>,
}

impl MetricsReport {
    /// Wraps the report's JSON text as the server sent it.
    pub fn new(raw: impl Into<Box<str>>) -> Self {
        Self(Arc::new(MetricsInner {
            raw: raw.into(),
            parsed: OnceLock::new(),
        }))
    }

    /// The JSON text exactly as the server sent it.
    pub fn raw(&self) -> &str {
        &self.0.raw
    }

    /// The report parsed as JSON (parsed once, on first call, and shared by every clone).
    pub fn json(&self) -> Result<&serde_json::Value, &serde_json::Error> {
        self.0
            .parsed
            .get_or_init(|| serde_json::from_str(&self.0.raw))
            .as_ref()
    }
}

impl PartialEq for MetricsReport {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.raw == other.0.raw
    }
}

impl Eq for MetricsReport {}

impl fmt::Debug for MetricsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        let raw = self.raw();
        let mut f = f.debug_struct("MetricsReport");
        if raw.len() <= SHOWN {
            f.field("metrics", &raw);
        } else {
            let cut = raw.floor_char_boundary(SHOWN);
            f.field(
                "metrics",
                &format_args!("{:?}… ({} bytes)", &raw[..cut], raw.len()),
            );
        }
        f.finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MetricsTag {
    MetricsReport,
}

#[derive(Serialize)]
struct MetricsOut<'a> {
    #[serde(rename = "type")]
    tag: MetricsTag,
    metrics: MetricsPayload<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum MetricsPayload<'a> {
    Json(&'a RawValue),
    Text(&'a str),
}

#[derive(Deserialize)]
struct MetricsIn {
    #[serde(rename = "type")]
    _tag: MetricsTag,
    metrics: Box<RawValue>,
}

impl Serialize for MetricsReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = self.raw();
        let valid: Option<&RawValue> = serde_json::from_str(raw).ok();
        let metrics = match valid {
            Some(json) => MetricsPayload::Json(json),
            None => MetricsPayload::Text(raw),
        };
        MetricsOut {
            tag: MetricsTag::MetricsReport,
            metrics,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for MetricsReport {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let MetricsIn { metrics, .. } = MetricsIn::deserialize(deserializer)?;
        let text = metrics.get();
        // A string that is not itself JSON text is how a non-JSON report was serialized.
        if let Ok(inner) = serde_json::from_str::<String>(text)
            && serde_json::from_str::<&RawValue>(&inner).is_err()
        {
            return Ok(Self::new(inner));
        }
        Ok(Self::new(text))
    }
}
