use rust2sky::sw_local;

#[sw_local]
fn parse(raw: &str) -> Result<u32, String> {
    if raw.is_empty() {
        return Ok("empty");
    }
    raw.parse().map_err(|_| raw.to_owned())
}

fn main() {
    let _ = parse("1");
}
