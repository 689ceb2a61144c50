//! Go's "share memory by communicating" pattern for a map: one thread owns a `GoMap`, the
//! others send it requests over a channel and wait for the reply.
//!
//! ```go
//! reqs := make(chan request)
//! go func() {
//!     m := map[uint64]uint64{}
//!     for r := range reqs { r.reply <- r.apply(m) }
//! }()
//! ```
//!
//! No lock is ever held by two threads, and the map needs no synchronisation at all; every
//! operation costs two channel hand-offs (and, on a loaded machine, a context switch), so it
//! is the slowest of the patterns per operation: the `concurrent` bench measures it next to
//! `gomap::sync`'s maps. Run it with `cargo run --release -p gomap --example actor`.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

use gomap::GoMap;

/// What a client may ask the owner of the map.
#[derive(Clone, Copy, Debug)]
pub enum Request {
    /// The value of a key.
    Get(u64),
    /// Inserts a key with a value; replies with the previous value.
    Insert(u64, u64),
    /// Removes a key; replies with its value.
    Remove(u64),
    /// Adds one to the value of a key; replies with the new value.
    Increment(u64),
}

enum Message {
    /// A new client's reply channel; the actor answers with the client's number.
    Register(SyncSender<Option<u64>>),
    Request {
        client: usize,
        request: Request,
    },
}

/// The thread that owns the map.
pub struct ActorMap {
    requests: Sender<Message>,
    owner: JoinHandle<GoMap<u64, u64>>,
}

/// One thread's connection to the [`ActorMap`]: its own reply channel.
pub struct Client {
    requests: Sender<Message>,
    id: usize,
    replies: Receiver<Option<u64>>,
}

impl ActorMap {
    /// Starts the owner thread with a map sized for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> ActorMap {
        let (requests, inbox) = channel();
        let owner = thread::spawn(move || {
            let mut map = GoMap::with_capacity(capacity);
            let mut clients: Vec<SyncSender<Option<u64>>> = Vec::new();
            for message in inbox {
                match message {
                    Message::Register(reply) => {
                        let _ = reply.send(Some(clients.len() as u64));
                        clients.push(reply);
                    }
                    Message::Request { client, request } => {
                        let answer = match request {
                            Request::Get(k) => map.get(&k).copied(),
                            Request::Insert(k, v) => map.insert(k, v),
                            Request::Remove(k) => map.remove(&k),
                            Request::Increment(k) => map.get_mut(&k).map(|v| {
                                *v += 1;
                                *v
                            }),
                        };
                        // A client that went away no longer needs its answer.
                        let _ = clients[client].send(answer);
                    }
                }
            }
            map
        });
        ActorMap { requests, owner }
    }

    /// A connection for the calling thread.
    pub fn client(&self) -> Client {
        let (reply, replies) = sync_channel(1);
        self.requests.send(Message::Register(reply)).expect("the owner thread is running");
        let id = replies.recv().expect("the owner thread answers").expect("a client number") as usize;
        Client { requests: self.requests.clone(), id, replies }
    }

    /// Waits until every client is dropped, then stops the owner thread and returns the map.
    /// (Dropping an `ActorMap` instead lets the owner thread finish on its own.)
    pub fn into_map(self) -> GoMap<u64, u64> {
        let ActorMap { requests, owner } = self;
        drop(requests); // the owner's loop ends when the clients' senders are gone too
        owner.join().expect("the owner thread does not panic")
    }
}

impl Client {
    /// Sends `request` and waits for the answer.
    pub fn call(&self, request: Request) -> Option<u64> {
        self.requests.send(Message::Request { client: self.id, request }).expect("the owner thread is running");
        self.replies.recv().expect("the owner thread answers")
    }
}

fn main() {
    let actor = ActorMap::with_capacity(0);
    thread::scope(|s| {
        for t in 0..4u64 {
            let client = actor.client();
            s.spawn(move || {
                for i in 0..1000 {
                    client.call(Request::Insert(t * 1000 + i, i));
                    client.call(Request::Increment(t * 1000 + i));
                }
                for i in (0..1000).step_by(2) {
                    client.call(Request::Remove(t * 1000 + i));
                }
                assert_eq!(client.call(Request::Get(t * 1000 + 1)), Some(2));
            });
        }
    });
    let map = actor.into_map();
    println!("the owner thread ends with {} entries (expected 2000)", map.len());
    assert_eq!(map.len(), 2000);
}
