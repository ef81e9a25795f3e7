//! A TCP relay on 127.0.0.1 in front of a Kafka broker, frame by frame, for the tests that look
//! at or mend what passes between a client and the broker. The broker is started advertising
//! the relay's port (`servers::tansu_advertising`), so that clients come back through it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What a relay does with the frames it passes, each without its size.
pub(crate) trait Frames: Send + Sync + 'static {
    /// Sees each request as it goes to the broker.
    fn request(&self, _frame: &[u8]) {}

    /// May change each answer, knowing the API key of the request it answers.
    fn answer(&self, _api_key: i16, _frame: &mut Vec<u8>) {}
}

/// A relay accepting on its port until the test's process ends.
pub(crate) struct Relay;

impl Relay {
    /// Relays every connection to `port` to the broker on `broker_port`, through `frames`.
    pub(crate) fn start(port: u16, broker_port: u16, frames: Arc<dyn Frames>) -> Relay {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("the relay's port");
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(broker) = TcpStream::connect((Ipv4Addr::LOCALHOST, broker_port)) else {
                    continue;
                };
                relay(client, broker, frames.clone());
            }
        });
        Relay
    }
}

/// Relays one connection: requests one way, answers the other, matched by correlation id.
fn relay(client: TcpStream, broker: TcpStream, frames: Arc<dyn Frames>) {
    // A request header starts with its API key, its version and the correlation id that the
    // answer's header repeats.
    let asked: Arc<Mutex<HashMap<Vec<u8>, i16>>> = Arc::default();
    let (mut from_client, mut to_broker) =
        (client.try_clone().unwrap(), broker.try_clone().unwrap());
    let (requests, request_frames) = (asked.clone(), frames.clone());
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut from_client) {
            if let (Some(key), Some(correlation)) = (frame.get(..2), frame.get(4..8)) {
                let api_key = i16::from_be_bytes([key[0], key[1]]);
                requests
                    .lock()
                    .unwrap()
                    .insert(correlation.to_vec(), api_key);
            }
            request_frames.request(&frame);
            if write_frame(&mut to_broker, &frame).is_err() {
                break;
            }
        }
        let _ = to_broker.shutdown(Shutdown::Both);
    });
    let (mut from_broker, mut to_client) = (broker, client);
    std::thread::spawn(move || {
        while let Some(mut frame) = read_frame(&mut from_broker) {
            let api_key = frame
                .get(..4)
                .and_then(|correlation| asked.lock().unwrap().remove(correlation));
            if let Some(api_key) = api_key {
                frames.answer(api_key, &mut frame);
            }
            if write_frame(&mut to_client, &frame).is_err() {
                break;
            }
        }
        let _ = to_client.shutdown(Shutdown::Both);
    });
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0; 4];
    stream.read_exact(&mut size).ok()?;
    let mut frame = vec![0; usize::try_from(i32::from_be_bytes(size)).ok()?];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(stream: &mut TcpStream, frame: &[u8]) -> std::io::Result<()> {
    let size = i32::try_from(frame.len()).expect("a small frame");
    stream.write_all(&size.to_be_bytes())?;
    stream.write_all(frame)
}
