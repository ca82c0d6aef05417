//! P11: the type storage accepts cannot hold an IP or unscrubbed text. These programs must not
//! compile; the expected compiler errors are in `compile_fail/*.stderr`.

#[test]
fn p11_storage_type_rejects_ip_and_raw_text_at_compile_time() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
