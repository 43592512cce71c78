//! The gateway's enrichment (`tb-enrichment`) as typed columns of its own:
//! `ip`, `geo_country`, `geo_region`, `geo_city`, `geo_postal_code`,
//! `geo_time_zone`, `geo_asn`, `geo_as_org`, `ua_browser`,
//! `ua_browser_version`, `ua_os`, `ua_os_version`, `ua_device`, `is_bot`
//! — so a warehouse groups by country or browser without parsing JSON.
//! A header that does not parse leaves the columns null; the event is
//! still written (the header is an addition, not the event).

use arrow_array::ArrayRef;
use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_schema::{DataType, Field};
use serde::Deserialize;
use std::borrow::Cow;
use std::sync::Arc;

/// The header's fields (camelCase on the wire, see `docs/contract.md`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Enrichment<'a> {
    #[serde(borrow)]
    ip: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    postal_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time_zone: Option<Cow<'a, str>>,
    asn: Option<u32>,
    #[serde(borrow)]
    as_org: Option<Cow<'a, str>>,
    #[serde(borrow)]
    browser: Option<Cow<'a, str>>,
    #[serde(borrow)]
    browser_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    os: Option<Cow<'a, str>>,
    #[serde(borrow)]
    os_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    device: Option<Cow<'a, str>>,
    bot: bool,
}

impl<'a> Enrichment<'a> {
    /// The header value read; `None` when absent or unreadable.
    fn read(header: Option<&'a str>) -> Option<Enrichment<'a>> {
        serde_json::from_str(header?).ok()
    }

    fn texts(&self) -> [Option<&str>; 12] {
        [
            &self.ip,
            &self.country,
            &self.region,
            &self.city,
            &self.postal_code,
            &self.time_zone,
            &self.as_org,
            &self.browser,
            &self.browser_version,
            &self.os,
            &self.os_version,
            &self.device,
        ]
        .map(|c| c.as_deref())
    }
}

/// The text columns, in the order of [`Enrichment::texts`].
const TEXT_COLUMNS: [&str; 12] = [
    "ip",
    "geo_country",
    "geo_region",
    "geo_city",
    "geo_postal_code",
    "geo_time_zone",
    "geo_as_org",
    "ua_browser",
    "ua_browser_version",
    "ua_os",
    "ua_os_version",
    "ua_device",
];

/// The enrichment columns of one file.
#[derive(Default)]
pub struct EnrichmentColumns {
    texts: [StringBuilder; 12],
    asn: Int64Builder,
    bot: BooleanBuilder,
}

impl EnrichmentColumns {
    /// Appends one event's `tb-enrichment` value (`None`, or one that
    /// does not parse: all null, `is_bot` false).
    pub fn push(&mut self, header: Option<&str>) {
        let e = Enrichment::read(header);
        let e = e.as_ref();
        let texts = e.map(Enrichment::texts).unwrap_or_default();
        for (b, v) in self.texts.iter_mut().zip(texts) {
            b.append_option(v);
        }
        self.asn.append_option(e.and_then(|e| e.asn).map(i64::from));
        self.bot.append_value(e.is_some_and(|e| e.bot));
    }

    /// The columns, in the order of [`fields`]; the builders are left
    /// empty.
    pub fn finish(&mut self) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(TEXT_COLUMNS.len() + 2);
        for b in &mut self.texts {
            columns.push(Arc::new(b.finish()));
        }
        columns.push(Arc::new(self.asn.finish()));
        columns.push(Arc::new(self.bot.finish()));
        columns
    }
}

/// The enrichment columns' fields.
pub fn fields() -> Vec<Field> {
    let mut fields: Vec<Field> = TEXT_COLUMNS
        .iter()
        .map(|name| Field::new(*name, DataType::Utf8, true))
        .collect();
    // Int64: Iceberg has no unsigned types, and an ASN is 32 bits.
    fields.push(Field::new("geo_asn", DataType::Int64, true));
    fields.push(Field::new("is_bot", DataType::Boolean, false));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_and_tolerates_a_broken_one() {
        let h = r#"{"ip":"203.0.113.0","country":"DE","city":"Berlin","asn":64500,"browser":"Chrome","bot":true}"#;
        let e = Enrichment::read(Some(h)).unwrap();
        assert_eq!(e.texts()[0], Some("203.0.113.0"));
        assert_eq!((e.asn, e.bot), (Some(64500), true));
        assert_eq!(Enrichment::read(Some("{not json")), None);
        let mut cols = EnrichmentColumns::default();
        cols.push(Some(h));
        cols.push(None);
        let (f, c) = (fields(), cols.finish());
        assert_eq!((f.len(), c.len()), (14, 14));
        assert!(c.iter().all(|a| a.len() == 2));
    }
}
