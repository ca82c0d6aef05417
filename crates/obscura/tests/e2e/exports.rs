//! Exports (`/api/v1/export.csv`, `/api/v1/export.parquet`): any breakdown or time series as CSV
//! or Parquet, for tokens and analysts, each written to the audit log.

use obscura_store::audit::AuditLog;
use serde_json::json;
use time::macros::datetime;

use crate::harness::{SITE, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_give_breakdowns_and_series_as_csv_and_parquet_each_audited() {
    let s = TestServer::start(datetime!(2026-08-01 10:00 UTC)).await;
    for (ip, path) in [([127, 0, 0, 2], "/"), ([127, 0, 0, 3], "/"), ([127, 0, 0, 3], "/pricing")] {
        let body = json!({"site": SITE, "url": format!("https://{SITE}{path}")});
        assert_eq!(
            s.send(ip, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", body).await,
            204
        );
    }
    let get = |path: String| reqwest::Client::new().get(format!("{}{path}", s.base)).bearer_auth(&s.token).send();

    let res = get(format!("/api/v1/export.parquet?site={SITE}&range=today&dimension=page")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/vnd.apache.parquet");
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("shop.example-page.parquet"));
    let bytes = res.bytes().await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
    let batch = reader.into_iter().next().unwrap().unwrap();
    let column = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("column {name}")).clone();
    let pages = column("page");
    let pages = pages.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
    let views = column("pageviews");
    let views = views.as_any().downcast_ref::<arrow::array::UInt64Array>().unwrap();
    let rows: Vec<(&str, u64)> = (0..batch.num_rows()).map(|i| (pages.value(i), views.value(i))).collect();
    assert_eq!(rows, [("/", 2), ("/pricing", 1)]);

    let series = get(format!("/api/v1/export.csv?site={SITE}&range=today&interval=hour")).await.unwrap();
    assert_eq!(series.status(), 200);
    let text = series.text().await.unwrap();
    assert!(text.starts_with("date,visitors,visits,pageviews\n"), "{text}");
    assert!(text.contains("2026-08-01T10:00:00Z,2,2,3"), "{text}");
    assert_eq!(text.lines().count(), 25, "a header and 24 hours: {text}");

    let bad = get(format!("/api/v1/export.parquet?site={SITE}&dimension=colour")).await.unwrap();
    assert_eq!(bad.status(), 400);

    let log = AuditLog::open(&s.data_dir, s.master_key()).unwrap();
    let exports: Vec<_> = log.read_all().unwrap().into_iter().filter(|r| r.action == "export").collect();
    assert_eq!(exports.len(), 2, "{exports:?}");
    assert!(exports[0].detail.contains("export.parquet") && exports[1].detail.contains("interval=hour"), "{exports:?}");
    s.stop();
}
