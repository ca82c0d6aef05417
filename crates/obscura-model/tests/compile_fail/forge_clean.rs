// Scrubbed text cannot be forged from a String outside the privacy crate.
fn forge(raw: String) -> obscura_privacy::Clean {
    obscura_privacy::Clean(raw)
}

fn forge_again(raw: String) -> obscura_privacy::Clean {
    obscura_privacy::Clean::wrap(raw)
}

fn main() {}
