//! `/metrics` content negotiation: OpenMetrics for scrapers that ask for it,
//! the classic Prometheus text format 0.0.4 for everyone else.
//!
//! The two formats name counters differently (`# TYPE x counter` with samples
//! `x_total` in OpenMetrics, `# TYPE x_total counter` in 0.0.4) and OpenMetrics
//! ends with `# EOF`, so a 0.0.4 parser fed OpenMetrics misreads every counter.
//! Prometheus lists OpenMetrics in its `Accept` header; `curl`, many agents and
//! `Accept: text/plain` get 0.0.4. This follows Go's `expfmt.Negotiate` (the
//! reference the Prometheus client libraries share): the acceptable type with
//! the highest `q` wins, a `version` parameter must be one this encoder speaks,
//! and when nothing listed is acceptable the answer is 0.0.4 rather than 406 (a
//! scrape should not fail over a header).

use prometheus_client::registry::Registry;

/// A `/metrics` exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    OpenMetrics,
    Text004,
}

/// `Content-Type` of the OpenMetrics answer.
pub(crate) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Format {
    /// The format for a request's `Accept` header (absent: 0.0.4).
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text004;
        };
        let mut best: Option<(f32, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for param in parts {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "q" => q = v.parse().unwrap_or(0.0),
                    "version" => version = Some(v.to_string()),
                    _ => {}
                }
            }
            let format = match (media.as_str(), version.as_deref()) {
                ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => {
                    Format::OpenMetrics
                }
                ("text/plain", None | Some("0.0.4")) => Format::Text004,
                ("text/*" | "*/*", None) => Format::Text004,
                _ => continue,
            };
            // Strictly higher wins: among equals, the first listed.
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, format));
            }
        }
        best.map(|(_, f)| f).unwrap_or(Format::Text004)
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS,
            Format::Text004 => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }

    /// Encodes `registry` in this format.
    pub(crate) fn encode(self, registry: &Registry) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        match self {
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, registry)?,
            Format::Text004 => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, registry)?
            }
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_scrapers_get_openmetrics() {
        // Prometheus 2.x and 3.x defaults.
        for accept in [
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            "application/openmetrics-text",
        ] {
            assert_eq!(
                Format::negotiate(Some(accept)),
                Format::OpenMetrics,
                "{accept}"
            );
        }
    }

    #[test]
    fn everyone_else_gets_text_0_0_4() {
        for accept in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("text/plain; version=0.0.4"),
            Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.1"),
            // Nothing acceptable: 0.0.4 rather than failing the scrape.
            Some("application/json"),
            Some("application/openmetrics-text; version=9.9.9"),
            Some("application/openmetrics-text;q=0"),
        ] {
            assert_eq!(Format::negotiate(accept), Format::Text004, "{accept:?}");
        }
    }

    #[test]
    fn counters_are_named_as_each_format_requires() {
        let mut registry = Registry::default();
        let c: prometheus_client::metrics::counter::Counter = Default::default();
        c.inc();
        registry.register("switchboard_x", "X", c);
        let om = Format::OpenMetrics.encode(&registry).unwrap();
        assert!(om.contains("# TYPE switchboard_x counter\n"), "{om}");
        assert!(om.ends_with("# EOF\n"), "{om}");
        let text = Format::Text004.encode(&registry).unwrap();
        assert!(
            text.contains("# TYPE switchboard_x_total counter\n"),
            "{text}"
        );
        assert!(text.contains("switchboard_x_total 1\n"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }
}
