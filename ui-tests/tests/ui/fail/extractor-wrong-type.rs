use rust2sky::sw_entry;

#[sw_entry(extract = headers)]
fn handle(headers: Vec<String>) {
    let _ = headers;
}

fn main() {
    handle(Vec::new());
}
