use rust2sky::sw_local;

#[sw_local]
fn price(items: u32) -> u32 {
    __sw_span.tag("items", items.to_string());
    items * 3
}

fn main() {
    price(1);
}
