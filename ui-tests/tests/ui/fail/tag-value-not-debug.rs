use rust2sky::sw_local;

struct Cart;

#[sw_local(tags(cart = ?cart))]
fn price(cart: &Cart) -> u32 {
    let _ = cart;
    3
}

fn main() {
    price(&Cart);
}
