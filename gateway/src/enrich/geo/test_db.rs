//! Small MaxMind-format databases built by tests (City and ASN shapes),
//! so no test downloads one. Also compiled into the integration tests
//! (`tests/support`) by path.

use maxminddb_writer::Database;
use maxminddb_writer::metadata::IpVersion;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One network of the City database.
pub struct Place {
    /// `203.0.113.0/24` or `2001:db8::/32`.
    pub network: &'static str,
    /// ISO country code.
    pub country: &'static str,
    /// ISO subdivision code.
    pub region: &'static str,
    /// English city name.
    pub city: &'static str,
    /// Postal code.
    pub postal: &'static str,
    /// IANA time zone.
    pub time_zone: &'static str,
}

/// One network of the ASN database.
pub struct Network {
    /// `203.0.113.0/24` or `2001:db8::/32`.
    pub network: &'static str,
    /// AS number.
    pub asn: u32,
    /// Organisation.
    pub org: &'static str,
}

#[derive(Serialize)]
struct Code<'a> {
    iso_code: &'a str,
}
#[derive(Serialize)]
struct Named<'a> {
    names: BTreeMap<&'a str, &'a str>,
}
#[derive(Serialize)]
struct Postal<'a> {
    code: &'a str,
}
#[derive(Serialize)]
struct Location<'a> {
    time_zone: &'a str,
}
#[derive(Serialize)]
struct City<'a> {
    city: Named<'a>,
    country: Code<'a>,
    subdivisions: Vec<Code<'a>>,
    postal: Postal<'a>,
    location: Location<'a>,
}
#[derive(Serialize)]
struct Asn<'a> {
    autonomous_system_number: u32,
    autonomous_system_organization: &'a str,
}

/// An IPv4 network goes under `::/96`, where MaxMind's IPv6 databases
/// keep the IPv4 space.
fn path(network: &str) -> IpAddrWithMask {
    let (addr, len) = network.split_once('/').expect("network/len");
    let len: u8 = len.parse().expect("prefix length");
    match addr.parse().expect("address") {
        std::net::IpAddr::V4(v4) => {
            IpAddrWithMask::new(std::net::IpAddr::V6(v4.to_ipv6_compatible()), 96 + len)
        }
        v6 => IpAddrWithMask::new(v6, len),
    }
}

fn database(kind: &str) -> Database {
    let mut db = Database::default();
    db.metadata.ip_version = IpVersion::V6;
    db.metadata.database_type = kind.into();
    db.metadata.languages = vec!["en".into()];
    db.metadata.binary_format_major_version = 2;
    db
}

fn save(db: &Database, to: &Path) {
    let file = std::fs::File::create(to).expect("create mmdb");
    db.write_to(std::io::BufWriter::new(file))
        .expect("write mmdb");
}

/// Writes a City database of `places` to `to`.
pub fn write_city(to: &Path, places: &[Place]) {
    let mut db = database("GeoLite2-City");
    for p in places {
        let data = db
            .insert_value(City {
                city: Named {
                    names: BTreeMap::from([("en", p.city)]),
                },
                country: Code {
                    iso_code: p.country,
                },
                subdivisions: vec![Code { iso_code: p.region }],
                postal: Postal { code: p.postal },
                location: Location {
                    time_zone: p.time_zone,
                },
            })
            .expect("city record");
        db.insert_node(path(p.network), data);
    }
    save(&db, to);
}

/// The place every test and bench uses: Berlin, at `network`.
pub fn berlin(network: &'static str) -> Place {
    Place {
        network,
        country: "DE",
        region: "BE",
        city: "Berlin",
        postal: "10115",
        time_zone: "Europe/Berlin",
    }
}

/// A City database with Berlin and an ASN database with AS 64500
/// ("Example Transit"), both at `network`, written into `dir`: their paths.
pub fn write_example(
    dir: &Path,
    network: &'static str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let (city, asn) = (dir.join("city.mmdb"), dir.join("asn.mmdb"));
    write_city(&city, &[berlin(network)]);
    write_asn(
        &asn,
        &[Network {
            network,
            asn: 64500,
            org: "Example Transit",
        }],
    );
    (city, asn)
}

/// Writes an ASN database of `networks` to `to`.
pub fn write_asn(to: &Path, networks: &[Network]) {
    let mut db = database("GeoLite2-ASN");
    for n in networks {
        let data = db
            .insert_value(Asn {
                autonomous_system_number: n.asn,
                autonomous_system_organization: n.org,
            })
            .expect("asn record");
        db.insert_node(path(n.network), data);
    }
    save(&db, to);
}
