use rust2sky::config::Config;
use rust2sky::reporter::MemoryReporter;
use rust2sky::{Tracer, sw_local};

#[derive(Debug)]
struct Cart {
    items: u32,
}

impl Cart {
    #[sw_local]
    fn total(&self) -> u32 {
        self.items * 2
    }

    #[sw_local]
    fn add(&mut self, items: u32) -> &mut Self {
        self.items += items;
        self
    }

    #[sw_local]
    fn into_items(self) -> u32 {
        self.items
    }

    #[sw_local]
    fn boxed(self: Box<Self>) -> u32 {
        self.items
    }

    #[sw_local]
    fn checked(&self, limit: u32) -> Result<u32, String> {
        if self.items > limit {
            return Err(format!("{} items", self.items));
        }
        Ok(self.items)
    }

    #[sw_local]
    fn new(items: u32) -> Self {
        Cart { items }
    }
}

struct Wrapper<T>(T);

impl<T: Clone> Wrapper<T> {
    #[sw_local]
    fn get(&self) -> T {
        self.0.clone()
    }
}

fn main() {
    let reporter = MemoryReporter::new();
    let tracer = Tracer::new(Config::default(), reporter.clone());
    let results = tracer.in_scope(|| {
        let mut cart = Cart::new(1);
        cart.add(2).add(1);
        let total = cart.total();
        let checked = cart.checked(2);
        let items = cart.into_items();
        let boxed = Box::new(Cart { items: 5 }).boxed();
        let wrapped = Wrapper(7_u8).get() + Wrapper(1_u8).get();
        (total, checked, items, boxed, wrapped)
    });
    assert_eq!(results, (8, Err("4 items".to_owned()), 4, 5, 8));

    let names: Vec<String> = reporter
        .segments()
        .iter()
        .map(|segment| segment.spans[0].operation_name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "new",
            "Cart::add",
            "Cart::add",
            "Cart::total",
            "Cart::checked",
            "Cart::into_items",
            "Cart::boxed",
            "Wrapper::get",
            "Wrapper::get",
        ]
    );
    assert!(reporter.segments()[4].spans[0].is_error);
}
