use rust2sky::sw_local;

#[sw_local(nmae = "price", layer = Postgres)]
fn price() {}

fn main() {
    price();
}
