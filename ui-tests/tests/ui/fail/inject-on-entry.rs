use std::collections::HashMap;

use rust2sky::sw_entry;

#[sw_entry(inject = headers)]
fn handle(headers: &mut HashMap<String, String>) {
    let _ = headers;
}

fn main() {
    handle(&mut HashMap::new());
}
