//! Geo lookups against databases the test builds.

use super::test_db::{Network, Place, write_asn, write_city};
use super::*;

fn berlin() -> Place {
    super::test_db::berlin("203.0.113.0/24")
}

#[test]
fn finds_city_and_network_for_v4_and_v6_and_nothing_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (city, asn) = (dir.path().join("city.mmdb"), dir.path().join("asn.mmdb"));
    let lyon = Place {
        network: "2001:db8::/32",
        country: "FR",
        region: "ARA",
        city: "Lyon",
        postal: "69001",
        time_zone: "Europe/Paris",
    };
    write_city(&city, &[berlin(), lyon]);
    write_asn(
        &asn,
        &[Network {
            network: "203.0.113.0/24",
            asn: 64500,
            org: "Example Transit",
        }],
    );
    let dbs = GeoDatabases::open(Some(&city), Some(&asn))
        .unwrap()
        .unwrap();
    let g = dbs.lookup("203.0.113.9".parse().unwrap());
    assert_eq!(g.country.as_deref(), Some("DE"));
    assert_eq!(g.region.as_deref(), Some("BE"));
    assert_eq!(g.city.as_deref(), Some("Berlin"));
    assert_eq!(g.postal_code.as_deref(), Some("10115"));
    assert_eq!(g.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        (g.asn, g.as_org.as_deref()),
        (Some(64500), Some("Example Transit"))
    );
    let g = dbs.lookup("2001:db8:1::5".parse().unwrap());
    assert_eq!((g.city.as_deref(), g.asn), (Some("Lyon"), None));
    assert_eq!(dbs.lookup("198.51.100.1".parse().unwrap()), Geo::default());
}

#[test]
fn a_replaced_file_is_read_again_and_a_broken_one_is_not_taken() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city.mmdb");
    write_city(&city, &[berlin()]);
    let dbs = GeoDatabases::open(Some(&city), None).unwrap().unwrap();
    let ip = "203.0.113.9".parse().unwrap();
    assert_eq!(dbs.lookup(ip).city.as_deref(), Some("Berlin"));
    // Replaced the way geoipupdate does it: a new file renamed over.
    let next = dir.path().join("city.mmdb.new");
    write_city(
        &next,
        &[Place {
            city: "Potsdam",
            ..berlin()
        }],
    );
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&next)
        .unwrap()
        .set_modified(later)
        .unwrap();
    std::fs::rename(&next, &city).unwrap();
    dbs.reload_if_changed();
    assert_eq!(dbs.lookup(ip).city.as_deref(), Some("Potsdam"));
    // Never written in place: the old mapping must stay valid.
    std::fs::write(&next, b"not a database").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&next)
        .unwrap()
        .set_modified(later + Duration::from_secs(5))
        .unwrap();
    std::fs::rename(&next, &city).unwrap();
    dbs.reload_if_changed();
    assert_eq!(dbs.lookup(ip).city.as_deref(), Some("Potsdam"));
}
