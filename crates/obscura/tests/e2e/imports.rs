//! `obscura import`: a site's history from elsewhere, shown by the dashboard's API as its own.

use std::io::Write;

use crate::harness::{SITE, TestServer};

pub(crate) fn text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A figure of the import's summary, e.g. `page views stored`.
fn figure(summary: &str, name: &str) -> u64 {
    let line = summary.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{summary}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_logs_of_a_million_lines_match_the_dashboard() {
    let now = time::OffsetDateTime::now_utc();
    let s = TestServer::start(now).await;
    let log = s.dir.path().join("access.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let expected = obscura::sample_log::write(&mut out, SITE, now.date(), 7, 1_000_000, 11).unwrap();
    out.flush().unwrap();
    drop(out);
    let log_arg = log.to_str().unwrap();

    // The server holds the store: an import beside it is refused, and nothing is written.
    let beside = s.cli(&["import", "logs", "--site", SITE, "--format", "nginx", log_arg]);
    assert!(!beside.status.success());
    assert!(text(&beside).contains("in use by another Obscura process"), "{}", text(&beside));

    let mut command = s.command();
    let (s, imported) = s
        .restart_after(|| {
            command.args(["import", "logs", "--site", SITE, "--format", "nginx", log_arg]).output().unwrap()
        })
        .await;
    let summary = text(&imported);
    assert!(imported.status.success(), "{summary}");
    assert!(summary.contains(&format!("read {} lines", expected.lines)), "{summary}");
    assert_eq!(figure(&summary, "page views stored:"), expected.page_views, "{summary}");
    assert_eq!(figure(&summary, "automated, kept apart:"), expected.crawler_views, "{summary}");
    let skipped = ["assets and other files:", "other methods than GET:", "not answered 2xx or 304:"];
    assert_eq!(skipped.iter().map(|f| figure(&summary, f)).sum::<u64>(), expected.no_page_views, "{summary}");
    assert_eq!(figure(&summary, "unreadable:"), 0, "{summary}");

    // The salts made for the log's past days were destroyed before the import returned (P2).
    let yesterday = now.date().previous_day().unwrap();
    assert!(s.pipeline.salt_days().iter().all(|d| *d >= yesterday), "{:?}", s.pipeline.salt_days());

    // The dashboard's figures are the log's.
    let q = format!("site={SITE}&range=30d");
    let total = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    assert_eq!(total["results"]["pageviews"].as_u64(), Some(expected.page_views), "{total}");
    // Visitors over several days come from each day's distinct-count sketch (HyperLogLog, whose
    // error changes with each run's salts: -0.08 % and -0.54 % were seen).
    let visitors = total["results"]["visitors"].as_u64().unwrap() as f64;
    assert!((visitors / expected.visitors as f64 - 1.0).abs() < 0.02, "{total} against {}", expected.visitors);
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page&limit=5")).await;
    let top: Vec<(String, u64)> = pages["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_owned(), r["pageviews"].as_u64().unwrap()))
        .collect();
    assert_eq!(top, expected.top_pages[..5], "{pages}");
    let apart = s.api(&format!("/api/v1/stats/automated?{q}")).await;
    assert_eq!(apart["hits"].as_u64(), Some(expected.crawler_views), "{apart}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_logs_read_gzip_from_stdin_and_report_bad_lines_by_number() {
    let now = time::OffsetDateTime::now_utc();
    let yesterday = now.date().previous_day().unwrap();
    let at = obscura::sample_log::log_time(yesterday.with_hms(10, 0, 0).unwrap().assume_utc());
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let log = [
        format!(r#"203.0.113.1 - - [{at}] "GET /docs HTTP/1.1" 200 10 "-" "{firefox}""#),
        "this line is not in the combined format".to_owned(),
        format!(r#"203.0.113.2 - - [{at}] "GET /pricing HTTP/1.1" 200 10 "https://search.example/" "{firefox}""#),
        format!(r#"203.0.113.3 - - [{at}] "GET /docs HTTP/1.1" OK 10 "-" "{firefox}""#),
        format!(r#"203.0.113.3 - - [{at}] "GET /style.css HTTP/1.1" 200 10 "-" "{firefox}""#),
    ]
    .join("\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(log.as_bytes()).unwrap();
    let gzipped = gz.finish().unwrap();

    let s = TestServer::start(now).await;
    let mut command = s.command();
    let (s, imported) = s
        .restart_after(|| {
            let mut child = command
                .args(["import", "logs", "--site", SITE, "--format", "nginx", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&gzipped).unwrap();
            child.wait_with_output().unwrap()
        })
        .await;
    let summary = text(&imported);
    assert!(imported.status.success(), "{summary}");
    assert_eq!((figure(&summary, "page views stored:"), figure(&summary, "unreadable:")), (2, 2), "{summary}");
    assert!(summary.contains("standard input:2: \"this\" is not an IP address"), "named by number: {summary}");
    assert!(summary.contains("standard input:4: \"OK\" is not a status"), "{summary}");
    let day = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=custom&from={yesterday}&to={yesterday}")).await;
    assert_eq!((day["results"]["pageviews"].as_u64(), day["results"]["visitors"].as_u64()), (Some(2), Some(2)));

    // A log that is all unreadable says the format is wrong; an unknown site says how to add it.
    let (mut wrong_format, mut unknown_site) = (s.command(), s.command());
    let path = s.dir.path().join("caddy.log");
    std::fs::write(&path, caddy_log()).unwrap();
    let (s, (wrong, unknown)) = s
        .restart_after(|| {
            let wrong = wrong_format.args(["import", "logs", "--site", SITE, "--format", "nginx"]).arg(&path);
            let unknown = unknown_site.args(["import", "logs", "--site", "nowhere.example", "--format", "caddy-json"]);
            (wrong.output().unwrap(), unknown.arg(&path).output().unwrap())
        })
        .await;
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("is --format right?"), "{}", text(&wrong));
    assert!(!unknown.status.success());
    assert!(text(&unknown).contains("obscura site add nowhere.example"), "{}", text(&unknown));
    s.stop();
}

/// Two lines of Caddy's JSON log.
fn caddy_log() -> String {
    let line = r#"{"level":"info","ts":1780000000.5,"request":{"remote_ip":"203.0.113.9","method":"GET","uri":"/","headers":{}},"status":200}"#;
    format!("{line}\n{line}\n")
}

/// A Plausible export as its ZIP holds it: quoted headers and text, `CSVWithNames`.
pub(crate) fn plausible_zip(path: &std::path::Path, days: &[time::Date], today: time::Date) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let suffix = format!("{}_{}", days[0].to_string().replace('-', ""), today.to_string().replace('-', ""));
    let mut file = |table: &str, header: &str, rows: Vec<String>| {
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file(format!("imported_{table}_{suffix}.csv"), options).unwrap();
        zip.write_all(format!("{header}\n{}\n", rows.join("\n")).as_bytes()).unwrap();
    };
    let all: Vec<time::Date> = days.iter().copied().chain([today]).collect();
    file(
        "visitors",
        r#""date","visitors","pageviews","bounces","visits","visit_duration""#,
        all.iter().enumerate().map(|(i, d)| format!(r#""{d}",{},{},20,{},6000"#, 100 + i, 300 + i, 120 + i)).collect(),
    );
    file(
        "pages",
        r#""date","hostname","page","visits","visitors","pageviews","total_scroll_depth","total_scroll_depth_visits","total_time_on_page","total_time_on_page_visits""#,
        all.iter()
            .flat_map(|d| {
                [
                    format!(r#""{d}","shop.example","/",70,60,150,0,0,0,0"#),
                    format!(r#""{d}","shop.example","/pricing",40,35,100,0,0,0,0"#),
                    format!(r#""{d}","shop.example","/private-offer-for-anna",2,2,2,0,0,0,0"#),
                ]
            })
            .collect(),
    );
    file(
        "custom_events",
        r#""date","name","link_url","path","visitors","events""#,
        all.iter().map(|d| format!(r#""{d}","Signup","","",12,15"#)).collect(),
    );
    file(
        "browsers",
        r#""date","browser","browser_version","visitors","visits","visit_duration","bounces","pageviews""#,
        all.iter().map(|d| format!(r#""{d}","Firefox","133.0",40,45,2000,5,120"#)).collect(),
    );
    file("goals", r#""date","name""#, vec![]);
    zip.finish().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_plausible_csv_export_totals_show_in_the_dashboard() {
    let now = time::OffsetDateTime::now_utc();
    let today = now.date();
    let days: Vec<time::Date> = (60..63).rev().map(|back| today - time::Duration::days(back)).collect();
    let s = TestServer::start(now).await;
    // Today the site has its own page view: the export's today is left alone.
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let event = serde_json::json!({"site": SITE, "url": "https://shop.example/own"});
    assert!(s.send([127, 0, 0, 1], firefox, event).await.is_success());
    let zip_path = s.dir.path().join("plausible_export.zip");
    plausible_zip(&zip_path, &days, today);

    let mut command = s.command();
    let (s, imported) = s
        .restart_after(|| command.args(["import", "plausible", "--site", SITE]).arg(&zip_path).output().unwrap())
        .await;
    let summary = text(&imported);
    assert!(imported.status.success(), "{summary}");
    assert_eq!(figure(&summary, "days imported:"), 3, "{summary}");
    assert!(summary.contains("days with data already:   1"), "{summary}");
    assert!(summary.contains("table `goals` is not imported"), "{summary}");

    let q = format!("site={SITE}&range=custom&from={}&to={}", days[0], days[2]);
    let total = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    let r = &total["results"];
    assert_eq!((r["pageviews"].as_u64(), r["visitors"].as_u64()), (Some(300 + 301 + 302), Some(303)), "{total}");
    assert_eq!(r["visits"].as_u64(), Some(120 + 121 + 122), "{total}");
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    let listed: Vec<(&str, u64)> = pages["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap(), r["pageviews"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, [("/", 450), ("/pricing", 300)], "a page of fewer than k visitors is left out (P3): {pages}");
    let events = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=event")).await;
    assert_eq!(events["results"][0]["value"], "Signup", "{events}");
    let browsers = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=browser")).await;
    assert_eq!(browsers["results"][0]["visitors"].as_u64(), Some(120), "{browsers}");
    // Today's figures are the site's own.
    let own = s.api(&format!("/api/v1/stats/aggregate?site={SITE}&range=today")).await;
    assert_eq!(own["results"]["pageviews"].as_u64(), Some(1), "{own}");
    s.stop();
}

/// Umami's website-event and event-data CSVs as its documented `\COPY … FORCE_QUOTE *` writes
/// them: on each of `days`, 30 sessions view `/` then `/pricing`; 10 of them sign up on the pro
/// plan (a property in the event-data CSV). One row has an event type Umami does not have.
fn umami_export(dir: &std::path::Path, days: &[time::Date]) -> (std::path::PathBuf, std::path::PathBuf) {
    let quoted = |cells: &[&str]| cells.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(",");
    let mut events = vec![quoted(&[
        "website_id",
        "session_id",
        "visit_id",
        "event_id",
        "hostname",
        "browser",
        "os",
        "device",
        "screen",
        "language",
        "country",
        "subdivision1",
        "subdivision2",
        "city",
        "url_path",
        "url_query",
        "referrer_path",
        "referrer_query",
        "referrer_domain",
        "page_title",
        "event_type",
        "event_name",
        "created_at",
    ])];
    let mut data = vec![quoted(&[
        "website_id",
        "session_id",
        "event_id",
        "url_path",
        "event_name",
        "data_key",
        "string_value",
        "number_value",
        "date_value",
        "data_type",
        "created_at",
    ])];
    for day in days {
        for n in 0..30 {
            let (session, visit) = (format!("s-{day}-{n}"), format!("v-{day}-{n}"));
            let at = |minute: u32| format!("{day} 10:{minute:02}:00");
            for (minute, page) in [(0, "/"), (3, "/pricing")] {
                let id = format!("e-{day}-{n}-{minute}");
                events.push(quoted(&[
                    "w",
                    &session,
                    &visit,
                    &id,
                    SITE,
                    "firefox",
                    "Linux",
                    "desktop",
                    "1920x1080",
                    "en-US",
                    "DE",
                    "DE-BW",
                    "",
                    "Stuttgart",
                    page,
                    "",
                    "",
                    "",
                    "",
                    "Shop",
                    "1",
                    "",
                    &at(minute),
                ]));
            }
            if n < 10 {
                let id = format!("e-{day}-{n}-signup");
                events.push(quoted(&[
                    "w",
                    &session,
                    &visit,
                    &id,
                    SITE,
                    "firefox",
                    "Linux",
                    "desktop",
                    "1920x1080",
                    "en-US",
                    "DE",
                    "DE-BW",
                    "",
                    "Stuttgart",
                    "/pricing",
                    "",
                    "",
                    "",
                    "",
                    "Shop",
                    "2",
                    "signup",
                    &at(4),
                ]));
                data.push(quoted(&["w", &session, &id, "/pricing", "signup", "plan", "pro", "", "", "1", &at(4)]));
            }
        }
    }
    events.insert(
        5,
        quoted(&[
            "w",
            "s",
            "v",
            "e",
            SITE,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "/",
            "",
            "",
            "",
            "",
            "",
            "9",
            "",
            "2024-01-01 00:00:00",
        ]),
    );
    let events_path = dir.join("website_event.csv.gz");
    let mut gz =
        flate2::write::GzEncoder::new(std::fs::File::create(&events_path).unwrap(), flate2::Compression::fast());
    gz.write_all(format!("{}\n", events.join("\n")).as_bytes()).unwrap();
    gz.finish().unwrap();
    let data_path = dir.join("event_data.csv");
    std::fs::write(&data_path, format!("{}\n", data.join("\n"))).unwrap();
    (events_path, data_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_umami_export_totals_show_in_the_dashboard() {
    let now = time::OffsetDateTime::now_utc();
    let days: Vec<time::Date> = (40..43).rev().map(|back| now.date() - time::Duration::days(back)).collect();
    let s = TestServer::start(now).await;
    let (events, data) = umami_export(s.dir.path(), &days);
    let mut command = s.command();
    let (s, imported) = s
        .restart_after(|| command.args(["import", "umami", "--site", SITE]).arg(&events).arg(&data).output().unwrap())
        .await;
    let summary = text(&imported);
    assert!(imported.status.success(), "{summary}");
    assert_eq!(figure(&summary, "days imported:"), 3, "{summary}");
    assert_eq!(figure(&summary, "page views:"), 180, "{summary}");
    assert_eq!(figure(&summary, "custom events:"), 30, "{summary}");
    assert!(summary.contains("website_event.csv.gz:6: `event_type` \"9\""), "the bad row by its line: {summary}");
    assert!(summary.contains("event_data.csv: skipped, event data"), "{summary}");

    let q = format!("site={SITE}&range=custom&from={}&to={}", days[0], days[2]);
    let total = s.api(&format!("/api/v1/stats/aggregate?{q}")).await;
    let r = &total["results"];
    let figures = (r["pageviews"].as_u64(), r["visitors"].as_u64(), r["visits"].as_u64(), r["bounce_rate"].as_f64());
    assert_eq!(figures, (Some(180), Some(90), Some(90), Some(0.0)), "{total}");
    let rows = |v: serde_json::Value, figure: &str| -> Vec<(String, u64)> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["value"].as_str().unwrap().to_owned(), r[figure].as_u64().unwrap()))
            .collect()
    };
    let pages = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=page")).await;
    assert_eq!(rows(pages, "pageviews"), [("/".to_owned(), 90), ("/pricing".to_owned(), 90)]);
    let signups = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=event")).await;
    assert_eq!(rows(signups, "events"), [("signup".to_owned(), 30)]);
    let browsers = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=browser")).await;
    assert_eq!(rows(browsers, "visitors"), [("Firefox".to_owned(), 90)]);
    let provinces = s.api(&format!("/api/v1/stats/breakdown?{q}&dimension=province")).await;
    assert_eq!(rows(provinces, "visitors"), [("DE-BW".to_owned(), 90)], "nothing finer than a province (P2)");
    s.stop();
}
