use std::future::Future;

fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

async fn work() {}

fn main() {
    drop(assert_send(async {
        let span = rust2sky::local_span("x").entered();
        work().await;
        drop(span);
    }));
}
