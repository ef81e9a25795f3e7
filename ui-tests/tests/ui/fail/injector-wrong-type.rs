use rust2sky::sw_exit;

#[sw_exit(peer = "users:8080", inject = headers)]
fn fetch_user(headers: &mut String) {
    let _ = headers;
}

fn main() {
    fetch_user(&mut String::new());
}
