//! A TCP gate in front of the simulator's HTTP server. During an "outage" it resets every open
//! connection and every new one, so clients see Palette as unreachable (not as an HTTP error),
//! exactly like a Palette whose load balancer is down.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub async fn run(
    public: TcpListener,
    backend: SocketAddr,
    outage: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = public.accept() => a,
        };
        let Ok((client, _)) = accepted else {
            continue;
        };
        if *outage.borrow() {
            reset(client);
            continue;
        }
        let outage = outage.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = client.set_nodelay(true);
            let Ok(server) = TcpStream::connect(backend).await else {
                reset(client);
                return;
            };
            let _ = server.set_nodelay(true);
            forward(client, server, outage, shutdown).await;
        });
    }
}

async fn forward(
    mut client: TcpStream,
    mut server: TcpStream,
    mut outage: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = outage.wait_for(|down| *down) => reset(client),
        _ = shutdown.cancelled() => {}
    }
}

/// Closes with RST rather than FIN: the client sees "connection reset", never a half answer.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}
