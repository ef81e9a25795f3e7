use rust2sky::sw_entry;

#[sw_entry(peer = "users:8080")]
fn handle() {}

fn main() {
    handle();
}
