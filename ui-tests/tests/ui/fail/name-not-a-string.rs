use rust2sky::sw_local;

#[sw_local(name = 5)]
fn price() {}

fn main() {
    price();
}
