use rust2sky::sw_exit;

#[sw_exit(peer = "db:5432", layer = Postgres)]
fn query() {}

fn main() {
    query();
}
