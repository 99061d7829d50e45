#ifndef CTUNNELRELAY_H
#define CTUNNELRELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// A relay of established tunnels: one thread and one epoll set for all of them, moving bytes socket to socket
/// with recv/send through a buffer per busy direction, or with splice(2) through a pipe (the bytes then never
/// enter user space).
typedef struct ttr_relay ttr_relay;

/// Called on the relay thread once per tunnel, after both of its sockets are closed: the bytes written to the
/// target (up) and to the client (down), and the first socket error (side 0 client, 1 target; -1 and 0 when the
/// tunnel ended without one: both ends passed on, a timeout, or closed on request).
typedef void (*ttr_done_fn)(void *context, uint64_t up, uint64_t down, int error_side, int error_number);

/// Starts the relay thread. `copy` moves the bytes with recv/send through a buffer per busy direction instead of
/// splice through a pipe. `idle_ms` (0: none) closes a tunnel that moved no byte for that long;
/// `close_flush_ms` closes the surviving side of a tunnel whose other side is gone once its pending bytes make
/// no progress for that long. Returns NULL with errno set.
ttr_relay *ttr_relay_start(ttr_done_fn done, bool copy, int64_t idle_ms, int64_t close_flush_ms);

/// Hands a tunnel to the relay, which owns both descriptors from now on (non-blocking sockets). `to_client` and
/// `to_target` are bytes to send before any relayed ones (copied); the first `to_client_uncounted` bytes of
/// `to_client` are not counted as delivered. Returns the tunnel's id (for ttr_relay_close), or 0 with errno set,
/// in which case the descriptors are still the caller's.
uint64_t ttr_relay_add(
    ttr_relay *relay, int client_fd, int target_fd, const void *to_client, size_t to_client_length,
    size_t to_client_uncounted, const void *to_target, size_t to_target_length, void *context);

/// Asks the relay to close a tunnel now (a shutdown's grace period ended). Unknown or ended ids are ignored.
void ttr_relay_close(ttr_relay *relay, uint64_t id);

/// Closes every tunnel (each reports through `done`), stops the thread and frees the relay.
void ttr_relay_stop(ttr_relay *relay);

#endif
