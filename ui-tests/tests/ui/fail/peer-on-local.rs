use rust2sky::sw_local;

#[sw_local(peer = "users:8080")]
fn price() {}

fn main() {
    price();
}
