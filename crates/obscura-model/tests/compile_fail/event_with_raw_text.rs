// Text fields of an Event only take scrubbed text, never a raw String.
fn leak(mut event: obscura_model::Event, raw_url: String) -> obscura_model::Event {
    event.path = raw_url;
    event
}

fn main() {}
