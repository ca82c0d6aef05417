// Storage takes Events; handing it the raw hit (which holds the IP) does not compile.
fn append(_events: Vec<obscura_model::Event>) {}

fn store(hit: obscura_model::RawHit) {
    append(vec![hit]);
}

fn main() {}
