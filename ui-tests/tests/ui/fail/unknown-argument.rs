use rust2sky::sw_local;

#[sw_local(nmae = "price")]
fn price() {}

fn main() {
    price();
}
