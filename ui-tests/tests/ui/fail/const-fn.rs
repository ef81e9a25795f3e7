use rust2sky::sw_local;

#[sw_local]
const fn price(items: u32) -> u32 {
    items * 3
}

fn main() {
    price(1);
}
