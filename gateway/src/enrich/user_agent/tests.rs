//! The user-agent table: real agents of desktop and mobile browsers,
//! in-app web views, native app HTTP clients, crawlers and tools, with the
//! families and bot flag they must give.

use super::*;

type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    bool,
);

/// Agent; browser; browser version prefix; OS; OS version prefix; device;
/// bot.
const TABLE: &[Row] = &[
    (
        r#"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Windows 10"),
        Some("NT 10.0"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"#,
        Some("Edge"),
        Some("131"),
        Some("Windows 10"),
        Some("NT 10.0"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"#,
        Some("Firefox"),
        Some("133"),
        Some("Windows 10"),
        Some("NT 10.0"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"#,
        Some("Safari"),
        Some("18.1"),
        Some("Mac OSX"),
        Some("10.15.7"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Mac OSX"),
        Some("10.15.7"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"#,
        Some("Firefox"),
        Some("128"),
        Some("Linux"),
        None,
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Linux"),
        None,
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("ChromeOS"),
        Some("x86_64 14541"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0"#,
        Some("Opera"),
        Some("115"),
        Some("Windows 10"),
        Some("NT 10.0"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko"#,
        Some("Internet Explorer"),
        Some("11.0"),
        Some("Windows 7"),
        Some("NT 6.1"),
        Some("pc"),
        false,
    ),
    (
        r#"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"#,
        Some("Safari"),
        Some("18.1"),
        Some("iPhone"),
        Some("18.1"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"#,
        Some("Chrome"),
        Some("131.0.6778.73"),
        Some("iPhone"),
        Some("17.6"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"#,
        Some("Safari"),
        Some("17.6"),
        Some("iPad"),
        Some("17.6"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"#,
        Some("Chrome"),
        Some("131.0.6778.81"),
        Some("Android"),
        Some("14"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"#,
        Some("SamsungBrowser"),
        Some("26.0"),
        Some("Android"),
        Some("13"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"#,
        Some("Firefox"),
        Some("133"),
        Some("Android"),
        Some("14"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Android"),
        Some("10"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Android"),
        Some("14"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 12; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36"#,
        Some("Webview"),
        Some("4.0"),
        Some("Android"),
        Some("12"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 353.0.0.26.88"#,
        Some("Webview"),
        None,
        Some("iPhone"),
        Some("17.5"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)"#,
        None,
        None,
        Some("Android"),
        Some("14"),
        Some("smartphone"),
        false,
    ),
    (r#"okhttp/4.12.0"#, None, None, None, None, None, false),
    (
        r#"Shop/3.4.1 (com.example.shop; build:341; iOS 17.5.1) Alamofire/5.9.1"#,
        None,
        None,
        Some("iOS"),
        Some("17.5.1"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Shop/341 CFNetwork/1496.0.7 Darwin/23.5.0"#,
        None,
        None,
        Some("iOS"),
        None,
        Some("smartphone"),
        false,
    ),
    (
        r#"tributary-kotlin/0.1.0 (Android 14; Pixel 8)"#,
        None,
        None,
        Some("Android"),
        Some("14"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"#,
        Some("Googlebot"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"#,
        Some("Googlebot"),
        None,
        Some("Android"),
        Some("6.0.1"),
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"#,
        Some("bingbot"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"#,
        Some("misc crawler"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"#,
        Some("ahref AhrefsBot"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"#,
        Some("misc crawler"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"#,
        Some("facebook"),
        None,
        None,
        None,
        Some("crawler"),
        true,
    ),
    (
        r#"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"#,
        Some("Chrome"),
        Some("131"),
        Some("Windows 10"),
        Some("NT 10.0"),
        Some("pc"),
        true,
    ),
    (
        r#"curl/8.5.0"#,
        Some("HTTP Library"),
        Some("curl"),
        None,
        None,
        Some("misc"),
        true,
    ),
    (
        r#"python-requests/2.32.3"#,
        None,
        None,
        None,
        None,
        None,
        true,
    ),
    (
        r#"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Chrome-Lighthouse"#,
        Some("Chrome"),
        Some("120"),
        Some("Mac OSX"),
        Some("10.15.7"),
        Some("pc"),
        true,
    ),
    (
        r#"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977"#,
        Some("Edge"),
        Some("15.14977"),
        Some("Windows Phone OS"),
        Some("10.0"),
        Some("smartphone"),
        false,
    ),
    (
        r#"Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)"#,
        None,
        None,
        None,
        None,
        None,
        false,
    ),
    (
        r#"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"#,
        Some("SamsungBrowser"),
        Some("4.0"),
        Some("Linux"),
        None,
        Some("pc"),
        false,
    ),
];

fn starts(got: &Option<String>, want: Option<&str>) -> bool {
    match (got, want) {
        (None, None) => true,
        (Some(g), Some(w)) => g.starts_with(w),
        _ => false,
    }
}

#[test]
fn real_agents_give_their_families_and_bot_flags() {
    let agents = Agents::new(100);
    assert!(TABLE.len() >= 30);
    let mut wrong = Vec::new();
    for (ua, browser, version, os, os_version, device, bot) in TABLE {
        let a = agents.parse(ua);
        let ok = a.browser.as_deref() == *browser
            && starts(&a.browser_version, *version)
            && a.os.as_deref() == *os
            && starts(&a.os_version, *os_version)
            && a.device.as_deref() == *device
            && a.bot == *bot;
        if !ok {
            wrong.push(format!("{ua}\n  got {a:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_repeated_agent_is_parsed_once_and_the_table_stays_bounded() {
    let agents = Agents::new(2);
    let first = agents.parse(TABLE[0].0);
    assert!(Arc::ptr_eq(&first, &agents.parse(TABLE[0].0)));
    for (ua, ..) in TABLE {
        agents.parse(ua);
    }
    assert!(agents.lock().len() <= 2);
}
