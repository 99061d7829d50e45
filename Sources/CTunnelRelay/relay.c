// splice(2), F_SETPIPE_SZ and pipe2 are declared only under _GNU_SOURCE, which must come before any header.
#define _GNU_SOURCE
#include "CTunnelRelay.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// One pipe or buffer holds at most this much of one direction; one read or splice moves at most this much.
#define HOLD_BYTES (256 << 10)
// Holds one direction may move per wake-up before the other tunnels get their turn.
#define TURN_LIMIT 8
// Empty pipes or buffers kept for the next busy direction instead of being freed.
#define POOL_LIMIT 16
// Copy mode: full-size buffers out at once (32 MiB). A direction whose reader does not read keeps its buffer, so
// without a bound a client that opens many tunnels and reads none would make the relay hold 512 KiB per tunnel (a
// GiB at --max-connections 4096); past it a direction gets a small buffer. (Splice's pipes are bounded by the
// kernel: past the user's pipe-user-pages-soft a new pipe gets two pages.)
#define FULL_BUFFER_LIMIT 128
#define SMALL_HOLD_BYTES (16 << 10)

enum { CLIENT = 0, TARGET = 1 };

struct direction {
    // Bytes to send before any relayed ones (the 200 answer, bytes read before the tunnel existed).
    char *user;
    size_t user_length, user_offset, user_uncounted;
    // Splice: the pipe's two ends. Copy: the buffer, its bytes at [start, start + held).
    int pipe_read, pipe_write;
    char *buffer;
    size_t capacity, start, held;
    bool source_ended;  // the source socket returned its end
    bool output_shut;   // the destination's output is shut (the end passed on)
    bool abandoned;     // the destination is gone: nothing more moves this way
    uint64_t delivered;
};

struct tunnel {
    uint64_t generation;  // tells the tunnels of one slot apart; never 0
    size_t index;         // its slot, chosen when it is added; callers know it by generation << 32 | index
    void *context;
    int fd[2];
    bool readable[2], writable[2];
    bool ended[2];  // an event said the side's input ended or failed: read it until 0 or an error
    // An event said urgent data (TCP's MSG_OOB) is pending: a read stops short at its mark with bytes behind it
    // that raise no new event, so the side is read until EAGAIN, and splice is helped over the mark.
    bool urgent[2];
    // Direction 0 moves client to target (up), 1 target to client (down); direction d reads side d.
    struct direction way[2];
    int error_side, error_number;
    bool flushing;  // one side is gone: the other gets what is pending for it, then closes
    bool starved;   // had bytes to read but no descriptor for a pipe: retried by the next scan
    bool finished, queued;
    int64_t last_activity, last_progress;
};

struct command {
    enum { ADD, CLOSE, STOP } kind;
    struct tunnel *tunnel;
    uint64_t id;
    struct command *next;
};

struct ttr_relay {
    int epoll_fd, wake_fd;
    pthread_t thread;
    ttr_done_fn done;
    bool copy;  // recv/send through a buffer instead of splice through a pipe
    int64_t idle_ms, close_flush_ms, scan_ms;
    pthread_mutex_t lock;
    struct command *commands, *last_command;
    uint64_t next_generation;
    // Slots no tunnel holds, below next_index: an add takes one and a tunnel's end gives it back, so neither an
    // add nor a close (by id) looks through the table.
    size_t *free_indices;
    size_t free_count, free_capacity, next_index;
    // Thread-owned from here on.
    struct tunnel **slots;
    size_t slot_count, slot_capacity;
    struct tunnel **ready;  // tunnels that used their turn and still have work
    size_t ready_count, ready_capacity;
    // Finished tunnels, freed at the end of the round, once no event of it can name them any more.
    struct tunnel **dead;
    size_t dead_count, dead_capacity;
    int pool[POOL_LIMIT][2];
    char *buffers[POOL_LIMIT];
    int pool_count;
    size_t full_buffers;  // full-size buffers held by directions (not those in the pool)
};

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// MARK: Pipes and buffers

static bool take_hold(struct ttr_relay *relay, struct direction *way) {
    if (relay->copy) {
        if (way->buffer) return true;
        bool full = relay->full_buffers < FULL_BUFFER_LIMIT;
        if (full && relay->pool_count > 0) {
            way->buffer = relay->buffers[--relay->pool_count];
        } else {
            way->buffer = malloc(full ? HOLD_BYTES : SMALL_HOLD_BYTES);
            if (!way->buffer) return false;
        }
        way->capacity = full ? HOLD_BYTES : SMALL_HOLD_BYTES;
        if (full) relay->full_buffers++;
        way->start = 0;
        return true;
    }
    if (way->pipe_read >= 0) return true;
    int fds[2];
    if (relay->pool_count > 0) {
        relay->pool_count--;
        fds[0] = relay->pool[relay->pool_count][0];
        fds[1] = relay->pool[relay->pool_count][1];
    } else {
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
        // Larger pipes mean fewer splices per byte; the default (64 KiB) still works if the system refuses.
        (void)fcntl(fds[1], F_SETPIPE_SZ, HOLD_BYTES);
    }
    way->pipe_read = fds[0];
    way->pipe_write = fds[1];
    return true;
}

// An empty pipe or buffer goes back to the pool; one still holding bytes is closed or freed with them.
static void release_hold(struct ttr_relay *relay, struct direction *way) {
    if (relay->copy) {
        if (!way->buffer) return;
        bool full = way->capacity == HOLD_BYTES;
        if (full) relay->full_buffers--;
        if (full && relay->pool_count < POOL_LIMIT) {
            relay->buffers[relay->pool_count++] = way->buffer;
        } else {
            free(way->buffer);
        }
        way->buffer = NULL;
        way->start = way->held = 0;
        return;
    }
    if (way->pipe_read < 0) return;
    if (way->held == 0 && relay->pool_count < POOL_LIMIT) {
        relay->pool[relay->pool_count][0] = way->pipe_read;
        relay->pool[relay->pool_count][1] = way->pipe_write;
        relay->pool_count++;
    } else {
        close(way->pipe_read);
        close(way->pipe_write);
    }
    way->pipe_read = way->pipe_write = -1;
    way->held = 0;
}

// MARK: Tunnel teardown

static void close_side(struct ttr_relay *relay, struct tunnel *tunnel, int side) {
    if (tunnel->fd[side] < 0) return;
    epoll_ctl(relay->epoll_fd, EPOLL_CTL_DEL, tunnel->fd[side], NULL);
    close(tunnel->fd[side]);
    tunnel->fd[side] = -1;
}

static void give_back_index(struct ttr_relay *relay, size_t index) {
    pthread_mutex_lock(&relay->lock);
    if (relay->free_count == relay->free_capacity) {
        size_t capacity = relay->free_capacity ? relay->free_capacity * 2 : 256;
        size_t *grown = realloc(relay->free_indices, capacity * sizeof *grown);
        if (grown) {
            relay->free_indices = grown;
            relay->free_capacity = capacity;
        }
    }
    // Without room the slot stays unused: one pointer lost, no slot ever held twice.
    if (relay->free_count < relay->free_capacity) relay->free_indices[relay->free_count++] = index;
    pthread_mutex_unlock(&relay->lock);
}

static void bury(struct ttr_relay *relay, struct tunnel *tunnel) {
    if (relay->dead_count == relay->dead_capacity) {
        size_t capacity = relay->dead_capacity ? relay->dead_capacity * 2 : 64;
        struct tunnel **grown = realloc(relay->dead, capacity * sizeof *grown);
        if (!grown) return;  // leaks one small struct rather than risk a use after free
        relay->dead = grown;
        relay->dead_capacity = capacity;
    }
    relay->dead[relay->dead_count++] = tunnel;
}

// Every path that ends a tunnel comes through here, so each one is freed exactly once, whoever ended it.
static void finish(struct ttr_relay *relay, struct tunnel *tunnel) {
    if (tunnel->finished) return;
    tunnel->finished = true;
    close_side(relay, tunnel, CLIENT);
    close_side(relay, tunnel, TARGET);
    for (int d = 0; d < 2; d++) {
        release_hold(relay, &tunnel->way[d]);
        free(tunnel->way[d].user);
        tunnel->way[d].user = NULL;
    }
    relay->slots[tunnel->index] = NULL;
    give_back_index(relay, tunnel->index);
    relay->done(
        tunnel->context, tunnel->way[0].delivered, tunnel->way[1].delivered, tunnel->error_side,
        tunnel->error_number);
    bury(relay, tunnel);
}

// Side `side` failed (reset, write to a closed peer): it is closed; the other side gets what was read from this
// one and is then closed too, since nothing can arrive for it any more.
static void fail_side(struct ttr_relay *relay, struct tunnel *tunnel, int side, int error_number) {
    if (tunnel->error_side < 0) {
        tunnel->error_side = side;
        tunnel->error_number = error_number;
    }
    close_side(relay, tunnel, side);
    struct direction *toward = &tunnel->way[1 - side];
    toward->abandoned = true;
    release_hold(relay, toward);
    if (!tunnel->flushing) {
        tunnel->flushing = true;
        tunnel->last_progress = now_ms();
    }
}

// MARK: Moving bytes

static void note_delivered(struct tunnel *tunnel, struct direction *way, size_t moved, int64_t now) {
    way->delivered += moved;
    tunnel->last_activity = tunnel->last_progress = now;
}

// splice(2) from a TCP socket stops at an urgent mark for good: the kernel's splice read never steps over the
// urgent byte and answers EAGAIN there. recv does step over it (the byte is out of band: the relay passes on the
// stream without it, as the proxies it stands beside do), and what it reads after the mark goes into the pipe,
// which is empty here and takes a page at least, so splice goes on from there.
static ssize_t read_past_mark(int source, int pipe_write) {
    char bytes[4096];
    ssize_t n = recv(source, bytes, sizeof bytes, MSG_DONTWAIT);
    if (n <= 0) return n;
    ssize_t written = write(pipe_write, bytes, (size_t)n);
    if (written == n) return n;
    if (written >= 0) errno = EIO;
    return -1;
}

// Moves what it can in direction `d`. Returns true when it stopped only because its turn is used up.
static bool pump(struct ttr_relay *relay, struct tunnel *tunnel, int d) {
    struct direction *way = &tunnel->way[d];
    int source = d, destination = 1 - d;
    for (int turn = 0;; turn++) {
        if (tunnel->finished || way->abandoned || tunnel->fd[destination] < 0) return false;
        int out = tunnel->fd[destination];
        while (way->user_offset < way->user_length) {
            if (!tunnel->writable[destination]) return false;
            ssize_t n = send(out, way->user + way->user_offset, way->user_length - way->user_offset,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    tunnel->writable[destination] = false;
                    return false;
                }
                fail_side(relay, tunnel, destination, errno);
                return false;
            }
            size_t before = way->user_offset;
            way->user_offset += (size_t)n;
            size_t counted = way->user_offset > way->user_uncounted
                                 ? way->user_offset - (before > way->user_uncounted ? before : way->user_uncounted)
                                 : 0;
            note_delivered(tunnel, way, counted, now_ms());
        }
        if (way->user) {
            // Sent: an idle tunnel keeps no copy of the early bytes (up to a read's worth) for its whole life.
            free(way->user);
            way->user = NULL;
            way->user_length = way->user_offset = 0;
        }
        while (way->held > 0) {
            if (!tunnel->writable[destination]) return false;
            ssize_t n = relay->copy
                            ? send(out, way->buffer + way->start, way->held, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : splice(way->pipe_read, NULL, out, NULL, way->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) {
                    tunnel->writable[destination] = false;
                    return false;
                }
                fail_side(relay, tunnel, destination, errno);
                return false;
            }
            way->held -= (size_t)n;
            way->start = way->held > 0 ? way->start + (size_t)n : 0;
            note_delivered(tunnel, way, (size_t)n, now_ms());
            // A short send means the socket's buffer is full, and it reports EPOLLOUT once there is room again,
            // so asking once more only to hear EAGAIN is saved.
            if (relay->copy && way->held > 0) tunnel->writable[destination] = false;
        }
        if (tunnel->fd[source] < 0) {
            // Everything read from the side that is gone has been delivered: the survivor closes.
            release_hold(relay, way);
            close_side(relay, tunnel, destination);
            return false;
        }
        if (way->source_ended) {
            release_hold(relay, way);
            if (!way->output_shut) {
                way->output_shut = true;
                // Every byte before the end has been handed to the kernel, so shutting the output loses none.
                if (shutdown(out, SHUT_WR) != 0 && errno != ENOTCONN) fail_side(relay, tunnel, destination, errno);
            }
            return false;
        }
        if (!tunnel->readable[source]) {
            release_hold(relay, way);
            return false;
        }
        if (turn >= TURN_LIMIT) return true;
        if (!take_hold(relay, way)) {
            // Out of descriptors: the bytes wait in the socket (the sender sees backpressure) until a scan retries.
            tunnel->starved = true;
            return false;
        }
        ssize_t n = relay->copy ? recv(tunnel->fd[source], way->buffer, way->capacity, MSG_DONTWAIT)
                                : splice(tunnel->fd[source], NULL, way->pipe_write, NULL, HOLD_BYTES,
                                         SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0 && errno == EAGAIN && !relay->copy && tunnel->urgent[source]) {
            n = read_past_mark(tunnel->fd[source], way->pipe_write);
        }
        if (n > 0) {
            way->held = (size_t)n;
            tunnel->last_activity = now_ms();
            // A short read took all there was; bytes arriving later raise a new event, so asking once more only
            // to hear EAGAIN is saved. Not after an end or error was reported: that raises no new event; nor while
            // urgent data is pending: the read stopped at its mark, not at the last byte.
            if (relay->copy && (size_t)n < way->capacity && !tunnel->ended[source] && !tunnel->urgent[source]) {
                tunnel->readable[source] = false;
            }
        } else if (n == 0) {
            way->source_ended = true;
            tunnel->last_activity = now_ms();
        } else if (errno == EAGAIN) {
            tunnel->readable[source] = false;
            tunnel->urgent[source] = false;
        } else if (errno != EINTR) {
            fail_side(relay, tunnel, source, errno);
            return false;
        }
    }
}

static void queue_ready(struct ttr_relay *relay, struct tunnel *tunnel) {
    if (tunnel->queued) return;
    if (relay->ready_count == relay->ready_capacity) {
        size_t capacity = relay->ready_capacity ? relay->ready_capacity * 2 : 64;
        struct tunnel **grown = realloc(relay->ready, capacity * sizeof *grown);
        if (!grown) return;  // it runs again on its next event or scan
        relay->ready = grown;
        relay->ready_capacity = capacity;
    }
    tunnel->queued = true;
    relay->ready[relay->ready_count++] = tunnel;
}

// Runs both directions and ends the tunnel when nothing is left to move.
static void service(struct ttr_relay *relay, struct tunnel *tunnel) {
    if (tunnel->finished) return;
    bool again = pump(relay, tunnel, 0);
    again = pump(relay, tunnel, 1) || again;
    // A side that failed meanwhile: the survivor gets what was read from it, then closes.
    for (int side = 0; side < 2; side++) {
        if (tunnel->fd[side] < 0) again = pump(relay, tunnel, side) || again;
    }
    if (tunnel->finished) return;
    bool both_shut = tunnel->way[0].output_shut && tunnel->way[1].output_shut;
    if (both_shut || (tunnel->fd[CLIENT] < 0 && tunnel->fd[TARGET] < 0)) {
        finish(relay, tunnel);
    } else if (again) {
        queue_ready(relay, tunnel);
    }
}

// A socket error the pumps cannot meet (its side's input has ended and nothing is pending for it, so neither
// reads nor writes touch it) is taken from the socket here; otherwise a peer's reset after its end would leave
// the tunnel open until the idle timeout.
static void notice_error(struct ttr_relay *relay, struct tunnel *tunnel, int side) {
    if (tunnel->finished || tunnel->fd[side] < 0) return;
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(tunnel->fd[side], SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0) return;
    fail_side(relay, tunnel, side, error);
    service(relay, tunnel);
}

// MARK: The loop

static uint64_t event_key(struct tunnel *tunnel, int side) {
    return (tunnel->generation << 32) | ((uint64_t)tunnel->index << 1) | (uint64_t)side;
}

static void adopt(struct ttr_relay *relay, struct tunnel *tunnel) {
    size_t index = tunnel->index;
    if (index >= relay->slot_capacity) {
        size_t capacity = relay->slot_capacity ? relay->slot_capacity : 256;
        while (capacity <= index) capacity *= 2;
        struct tunnel **grown = realloc(relay->slots, capacity * sizeof *grown);
        if (!grown) {
            close(tunnel->fd[CLIENT]);
            close(tunnel->fd[TARGET]);
            give_back_index(relay, index);
            relay->done(tunnel->context, 0, 0, -1, 0);
            free(tunnel->way[0].user);
            free(tunnel->way[1].user);
            free(tunnel);
            return;
        }
        memset(grown + relay->slot_capacity, 0, (capacity - relay->slot_capacity) * sizeof *grown);
        relay->slots = grown;
        relay->slot_capacity = capacity;
    }
    if (index >= relay->slot_count) relay->slot_count = index + 1;
    relay->slots[index] = tunnel;
    for (int side = 0; side < 2; side++) {
        struct epoll_event event = {.events = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET};
        event.data.u64 = event_key(tunnel, side);
        if (epoll_ctl(relay->epoll_fd, EPOLL_CTL_ADD, tunnel->fd[side], &event) != 0) {
            fail_side(relay, tunnel, side, errno);
        }
    }
    service(relay, tunnel);
}

// The tunnel an event names, unless it ended (a later tunnel in its slot has another generation).
static struct tunnel *lookup_event(struct ttr_relay *relay, uint64_t key) {
    size_t index = (size_t)((key & 0xffffffffu) >> 1);
    if (index >= relay->slot_count) return NULL;
    struct tunnel *tunnel = relay->slots[index];
    return tunnel && tunnel->generation == key >> 32 ? tunnel : NULL;
}

// The tunnel an id names, unless it ended.
static struct tunnel *lookup_id(struct ttr_relay *relay, uint64_t id) {
    size_t index = (size_t)(id & 0xffffffffu);
    if (index >= relay->slot_count) return NULL;
    struct tunnel *tunnel = relay->slots[index];
    return tunnel && tunnel->generation == id >> 32 ? tunnel : NULL;
}

static void scan(struct ttr_relay *relay, int64_t now) {
    for (size_t i = 0; i < relay->slot_count; i++) {
        struct tunnel *tunnel = relay->slots[i];
        if (!tunnel) continue;
        // The survivor of a failed side whose pending bytes make no progress; a tunnel that moved nothing.
        bool stuck = relay->close_flush_ms > 0 && tunnel->flushing && now - tunnel->last_progress >= relay->close_flush_ms;
        bool idle = relay->idle_ms > 0 && now - tunnel->last_activity >= relay->idle_ms;
        if (stuck || idle) {
            finish(relay, tunnel);
        } else if (tunnel->starved) {
            tunnel->starved = false;
            service(relay, tunnel);
        }
    }
}

static void *run(void *argument) {
    struct ttr_relay *relay = argument;
    // splice into a socket whose peer is gone raises SIGPIPE (it takes no MSG_NOSIGNAL); it is thread-directed,
    // so blocking it here leaves EPIPE as the only effect.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, NULL);
    pthread_setname_np(pthread_self(), "tt-proxy-relay");

    struct epoll_event events[256];
    int64_t next_scan = now_ms() + relay->scan_ms;
    bool stopping = false;
    while (!stopping) {
        int64_t now = now_ms();
        int timeout = relay->ready_count > 0 ? 0 : (int)(next_scan > now ? next_scan - now : 0);
        int count = epoll_wait(relay->epoll_fd, events, 256, timeout);
        if (count < 0) {
            if (errno == EINTR) continue;
            count = 0;
        }
        for (int i = 0; i < count; i++) {
            if (events[i].data.u64 == 0) {
                uint64_t value;
                (void)read(relay->wake_fd, &value, sizeof value);
                pthread_mutex_lock(&relay->lock);
                struct command *command = relay->commands;
                relay->commands = relay->last_command = NULL;
                pthread_mutex_unlock(&relay->lock);
                while (command) {
                    struct command *next = command->next;
                    if (command->kind == ADD) {
                        adopt(relay, command->tunnel);
                    } else if (command->kind == CLOSE) {
                        struct tunnel *tunnel = lookup_id(relay, command->id);
                        if (tunnel) finish(relay, tunnel);
                    } else {
                        stopping = true;
                    }
                    free(command);
                    command = next;
                }
                continue;
            }
            uint64_t key = events[i].data.u64;
            struct tunnel *tunnel = lookup_event(relay, key);
            if (!tunnel) continue;
            int side = (int)(key & 1);
            uint32_t flags = events[i].events;
            if (flags & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) tunnel->readable[side] = true;
            if (flags & EPOLLPRI) tunnel->urgent[side] = true;
            if (flags & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) tunnel->ended[side] = true;
            if (flags & (EPOLLOUT | EPOLLHUP | EPOLLERR)) tunnel->writable[side] = true;
            service(relay, tunnel);
            if (flags & EPOLLERR) notice_error(relay, tunnel, side);
        }
        // Tunnels that used their turn run again, in order, once every event of this round had its turn.
        size_t ready = relay->ready_count;
        for (size_t i = 0; i < ready; i++) {
            struct tunnel *tunnel = relay->ready[i];
            tunnel->queued = false;
            if (tunnel->finished) continue;
            service(relay, tunnel);
        }
        if (ready > 0) {
            memmove(relay->ready, relay->ready + ready, (relay->ready_count - ready) * sizeof *relay->ready);
            relay->ready_count -= ready;
        }
        now = now_ms();
        if (now >= next_scan) {
            scan(relay, now);
            next_scan = now + relay->scan_ms;
        }
        // A finished tunnel may still sit in the ready list: drop it there before freeing.
        size_t kept = 0;
        for (size_t i = 0; i < relay->ready_count; i++) {
            if (!relay->ready[i]->finished) relay->ready[kept++] = relay->ready[i];
        }
        relay->ready_count = kept;
        for (size_t i = 0; i < relay->dead_count; i++) free(relay->dead[i]);
        relay->dead_count = 0;
    }
    for (size_t i = 0; i < relay->slot_count; i++) {
        if (relay->slots[i]) finish(relay, relay->slots[i]);
    }
    for (size_t i = 0; i < relay->dead_count; i++) free(relay->dead[i]);
    free(relay->dead);
    return NULL;
}

// MARK: Public

static void post(struct ttr_relay *relay, struct command *command) {
    command->next = NULL;
    pthread_mutex_lock(&relay->lock);
    if (relay->last_command) {
        relay->last_command->next = command;
    } else {
        relay->commands = command;
    }
    relay->last_command = command;
    pthread_mutex_unlock(&relay->lock);
    uint64_t one = 1;
    (void)write(relay->wake_fd, &one, sizeof one);
}

ttr_relay *ttr_relay_start(ttr_done_fn done, bool copy, int64_t idle_ms, int64_t close_flush_ms) {
    struct ttr_relay *relay = calloc(1, sizeof *relay);
    if (!relay) return NULL;
    relay->done = done;
    relay->copy = copy;
    relay->idle_ms = idle_ms;
    relay->close_flush_ms = close_flush_ms;
    // Timeouts are checked by a scan about ten times per shortest timeout, at most once a second.
    int64_t shortest = 1000;
    if (idle_ms > 0 && idle_ms < shortest * 10) shortest = idle_ms / 10;
    if (close_flush_ms > 0 && close_flush_ms < shortest * 10) shortest = close_flush_ms / 10;
    relay->scan_ms = shortest < 5 ? 5 : shortest;
    relay->next_generation = 1;
    pthread_mutex_init(&relay->lock, NULL);
    relay->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    relay->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN};
    event.data.u64 = 0;
    if (relay->epoll_fd < 0 || relay->wake_fd < 0 ||
        epoll_ctl(relay->epoll_fd, EPOLL_CTL_ADD, relay->wake_fd, &event) != 0) {
        goto failed;
    }
    int error = pthread_create(&relay->thread, NULL, run, relay);
    if (error != 0) {
        errno = error;
        goto failed;
    }
    return relay;
failed: {
    int saved = errno;
    if (relay->epoll_fd >= 0) close(relay->epoll_fd);
    if (relay->wake_fd >= 0) close(relay->wake_fd);
    pthread_mutex_destroy(&relay->lock);
    free(relay);
    errno = saved;
    return NULL;
}
}

static char *copy(const void *bytes, size_t length) {
    if (length == 0) return NULL;
    char *result = malloc(length);
    if (result) memcpy(result, bytes, length);
    return result;
}

uint64_t ttr_relay_add(
    ttr_relay *relay, int client_fd, int target_fd, const void *to_client, size_t to_client_length,
    size_t to_client_uncounted, const void *to_target, size_t to_target_length, void *context) {
    struct tunnel *tunnel = calloc(1, sizeof *tunnel);
    struct command *command = calloc(1, sizeof *command);
    char *up = copy(to_target, to_target_length), *down = copy(to_client, to_client_length);
    if (!tunnel || !command || (to_target_length && !up) || (to_client_length && !down)) {
        errno = ENOMEM;
        goto refused;
    }
    tunnel->context = context;
    tunnel->fd[CLIENT] = client_fd;
    tunnel->fd[TARGET] = target_fd;
    tunnel->readable[CLIENT] = tunnel->readable[TARGET] = true;
    tunnel->writable[CLIENT] = tunnel->writable[TARGET] = true;
    tunnel->error_side = -1;
    for (int d = 0; d < 2; d++) tunnel->way[d].pipe_read = tunnel->way[d].pipe_write = -1;
    tunnel->way[0].user = up;
    tunnel->way[0].user_length = to_target_length;
    tunnel->way[1].user = down;
    tunnel->way[1].user_length = to_client_length;
    tunnel->way[1].user_uncounted = to_client_uncounted;
    tunnel->last_activity = tunnel->last_progress = now_ms();
    pthread_mutex_lock(&relay->lock);
    // Event keys hold the slot in 31 bits.
    if (relay->free_count == 0 && relay->next_index >= 0x7fffffffu) {
        pthread_mutex_unlock(&relay->lock);
        errno = EMFILE;
        goto refused;
    }
    tunnel->index = relay->free_count > 0 ? relay->free_indices[--relay->free_count] : relay->next_index++;
    tunnel->generation = relay->next_generation;
    relay->next_generation = relay->next_generation >= 0x7fffffffu ? 1 : relay->next_generation + 1;
    pthread_mutex_unlock(&relay->lock);
    uint64_t id = (tunnel->generation << 32) | tunnel->index;
    command->kind = ADD;
    command->tunnel = tunnel;
    post(relay, command);
    return id;
refused:
    free(tunnel);
    free(command);
    free(up);
    free(down);
    return 0;
}

void ttr_relay_close(ttr_relay *relay, uint64_t id) {
    struct command *command = calloc(1, sizeof *command);
    if (!command) return;
    command->kind = CLOSE;
    command->id = id;
    post(relay, command);
}

void ttr_relay_stop(ttr_relay *relay) {
    struct command *command = calloc(1, sizeof *command);
    if (command) {
        command->kind = STOP;
        post(relay, command);
    }
    pthread_join(relay->thread, NULL);
    for (struct command *rest = relay->commands; rest;) {
        struct command *next = rest->next;
        if (rest->kind == ADD) {
            close(rest->tunnel->fd[0]);
            close(rest->tunnel->fd[1]);
            relay->done(rest->tunnel->context, 0, 0, -1, 0);
            free(rest->tunnel->way[0].user);
            free(rest->tunnel->way[1].user);
            free(rest->tunnel);
        }
        free(rest);
        rest = next;
    }
    for (int i = 0; i < relay->pool_count; i++) {
        if (relay->copy) {
            free(relay->buffers[i]);
        } else {
            close(relay->pool[i][0]);
            close(relay->pool[i][1]);
        }
    }
    free(relay->slots);
    free(relay->free_indices);
    free(relay->ready);
    close(relay->epoll_fd);
    close(relay->wake_fd);
    pthread_mutex_destroy(&relay->lock);
    free(relay);
}
