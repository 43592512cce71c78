//! Device and app context: set by the platform, sent once per batch (the
//! gateway merges it into every event), never copied into each stored event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the platform knows about the device and app. Unset fields are
/// omitted. Field names follow Segment's `context` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Context {
    /// OS name, e.g. `iOS`, `Android`, `Linux`.
    pub os_name: Option<String>,
    /// OS version.
    pub os_version: Option<String>,
    /// App version (marketing).
    pub app_version: Option<String>,
    /// App build number.
    pub app_build: Option<String>,
    /// Device model.
    pub device_model: Option<String>,
    /// Device manufacturer.
    pub device_manufacturer: Option<String>,
    /// Locale, e.g. `en-GB`.
    pub locale: Option<String>,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: Option<String>,
    /// Network hint: `wifi`, `cellular`, `ethernet`, `offline`.
    pub network: Option<String>,
    /// Screen width in points.
    pub screen_width: Option<u32>,
    /// Screen height in points.
    pub screen_height: Option<u32>,
    /// Screen density (scale).
    pub screen_density: Option<f64>,
}

impl Context {
    /// The Segment-shaped JSON object, with the library added.
    pub fn to_json(&self, library_name: &str, library_version: &str) -> Map<String, Value> {
        fn obj(pairs: &[(&str, Option<Value>)]) -> Option<Value> {
            let m: Map<String, Value> = pairs
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v)))
                .collect();
            (!m.is_empty()).then_some(Value::Object(m))
        }
        let s = |v: &Option<String>| v.clone().map(Value::String);
        let mut out = Map::new();
        out.insert(
            "library".into(),
            serde_json::json!({"name": library_name, "version": library_version}),
        );
        let parts = [
            (
                "os",
                obj(&[("name", s(&self.os_name)), ("version", s(&self.os_version))]),
            ),
            (
                "app",
                obj(&[
                    ("version", s(&self.app_version)),
                    ("build", s(&self.app_build)),
                ]),
            ),
            (
                "device",
                obj(&[
                    ("model", s(&self.device_model)),
                    ("manufacturer", s(&self.device_manufacturer)),
                ]),
            ),
            ("network", obj(&[("type", s(&self.network))])),
            (
                "screen",
                obj(&[
                    ("width", self.screen_width.map(Value::from)),
                    ("height", self.screen_height.map(Value::from)),
                    ("density", self.screen_density.map(Value::from)),
                ]),
            ),
            ("locale", s(&self.locale)),
            ("timezone", s(&self.timezone)),
        ];
        for (k, v) in parts {
            if let Some(v) = v {
                out.insert(k.into(), v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omits_what_is_unknown() {
        let c = Context {
            os_name: Some("iOS".into()),
            screen_width: Some(390),
            ..Context::default()
        };
        let j = Value::Object(c.to_json("lib", "1"));
        assert_eq!(j["os"], serde_json::json!({"name": "iOS"}));
        assert_eq!(j["screen"]["width"], 390);
        assert!(j.get("app").is_none());
        assert_eq!(j["library"]["name"], "lib");
    }
}
