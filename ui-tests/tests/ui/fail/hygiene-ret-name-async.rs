use rust2sky::sw_local;

#[sw_local]
async fn price(items: u32) -> u32 {
    let total = items * 3;
    let _ = __sw_ret;
    total
}

fn main() {
    drop(price(1));
}
