use rust2sky::sw_exit;

#[sw_exit(peer = 8080)]
fn fetch_user() {}

fn main() {
    fetch_user();
}
