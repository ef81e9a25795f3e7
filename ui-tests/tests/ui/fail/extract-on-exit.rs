use std::collections::HashMap;

use rust2sky::sw_exit;

#[sw_exit(peer = "users:8080", extract = headers)]
fn fetch_user(headers: &HashMap<String, String>) {
    let _ = headers;
}

fn main() {
    fetch_user(&HashMap::new());
}
