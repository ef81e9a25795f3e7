use rust2sky::sw_exit;

#[sw_exit(name = "GET:/users")]
fn fetch_user() {}

fn main() {
    fetch_user();
}
