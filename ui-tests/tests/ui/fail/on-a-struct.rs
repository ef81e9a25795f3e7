use rust2sky::sw_local;

#[sw_local]
struct Cart {
    items: u32,
}

fn main() {
    let cart = Cart { items: 1 };
    let _ = cart.items;
}
