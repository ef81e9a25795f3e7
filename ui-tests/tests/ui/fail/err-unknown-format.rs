use rust2sky::sw_local;

#[sw_local(err(Pretty))]
fn parse(raw: &str) -> Result<u32, std::num::ParseIntError> {
    raw.parse()
}

fn main() {
    let _ = parse("1");
}
