use rust2sky::sw_local;

#[sw_local(name = "price", name = "cost")]
fn price() {}

fn main() {
    price();
}
