use rust2sky::sw_local;

#[sw_local]
fn price(items: u32) -> u32 {
    if items == 0 {
        return "free";
    }
    items * 3
}

fn main() {
    price(1);
}
