//! The server refuses to start half-protected: each misconfiguration stops it with a message
//! that says what to fix (invalid retention or k, a missing or wrong master key, keys inside the
//! data folder, a corrupt keyring; unreadable certificates are in `tls.rs`).

use std::sync::Arc;

use obscura::config::Config;
use time::macros::datetime;

fn config(dir: &std::path::Path) -> Config {
    Config { data_dir: dir.join("data"), master_key_file: dir.join("keys/master.key"), ..Default::default() }
}

/// One runtime for these synchronous tests, alive as long as the stores they open.
static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> =
    std::sync::LazyLock::new(|| tokio::runtime::Runtime::new().expect("a runtime"));

fn open(config: &Config) -> anyhow::Result<obscura::app::App> {
    let clock = Arc::new(obscura_model::ManualClock::new(datetime!(2026-06-01 10:00 UTC)));
    RUNTIME.block_on(obscura::app::open(config, clock))
}

#[test]
fn startup_refuses_invalid_retention_and_k() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.retention_days = 0;
    let err = format!("{:#}", c.validate().unwrap_err());
    assert!(err.contains("retention_days") && err.contains("1 to 3650"), "{err}");
    c.retention_days = 30;
    c.k_anonymity = 1;
    assert!(format!("{:#}", c.validate().unwrap_err()).contains("k_anonymity must be 2 to 1000"));
    let from_env = Config::default().apply_env(|k| (k == "OBSCURA_RETENTION_DAYS").then(|| "thirty".to_owned()));
    assert!(format!("{:#}", from_env.unwrap_err()).contains("OBSCURA_RETENTION_DAYS must be a number of days"));
}

#[test]
fn p13_corrupt_keyring_or_keyring_in_the_data_folder_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    drop(open(&c).unwrap());
    std::fs::write(c.keyring_path(), b"not a sealed keyring").unwrap();
    let err = format!("{:#}", open(&c).err().expect("a corrupt keyring must stop the start"));
    assert!(err.contains("keyring"), "{err}");

    let mut inside = config(dir.path());
    inside.keyring_file = Some(inside.data_dir.join("keyring"));
    let err = format!("{:#}", open(&inside).err().expect("a keyring in the data folder must stop the start"));
    assert!(err.contains("is inside the data folder"), "{err}");
}

#[test]
fn startup_refuses_a_missing_or_wrong_master_key_for_existing_data() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let app = open(&c).unwrap();
    obscura::admin::add_site(&*app.meta, "example.com", true, 30).unwrap();
    drop(app);
    let key_file = c.master_key_file.clone();
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let err = format!("{:#}", open(&c).err().expect("a lost key must stop the start"));
    assert!(err.contains("is missing, but the data folder") && err.contains("restore the key file"), "{err}");
    assert!(!key_file.exists(), "no new key may be made for existing data");
    std::fs::write(&key_file, hex_of_another_key()).unwrap();
    let err = format!("{:#}", open(&c).err().expect("a wrong key must stop the start"));
    assert!(err.contains("cannot be decrypted") || err.contains("wrong"), "{err}");
    std::fs::write(&key_file, saved).unwrap();
    assert!(open(&c).is_ok());
}

fn hex_of_another_key() -> String {
    (0..64).map(|i| if i % 2 == 0 { 'a' } else { '1' }).collect()
}

#[test]
fn p13_keyring_from_an_older_layout_moves_out_of_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    drop(open(&c).unwrap());
    let key = obscura_store::crypto::load_master_key(&c.master_key_source(), &c.data_dir).unwrap();
    let day = time::macros::date!(2026 - 06 - 01);
    let day_key = obscura_store::Keyring::open(key.clone(), c.keyring_path()).unwrap().get_or_create(day).unwrap();
    // An older version kept the keyring and salts inside the data folder.
    std::fs::rename(c.keyring_path(), c.data_dir.join("keyring")).unwrap();
    std::fs::rename(c.salts_path(), c.data_dir.join("salts")).unwrap();
    drop(open(&c).unwrap());
    assert!(c.keyring_path().exists() && c.salts_path().exists());
    assert!(!c.data_dir.join("keyring").exists() && !c.data_dir.join("salts").exists());
    let moved = obscura_store::Keyring::open(key, c.keyring_path()).unwrap();
    assert_eq!(moved.get(day).unwrap().bytes(), day_key.bytes(), "the moved keyring keeps its keys");
}
