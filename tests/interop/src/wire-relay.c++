// wire-relay LISTEN_SOCK SERVER_SOCK PREFIX
//
// Listens on the AF_UNIX socket LISTEN_SOCK, prints "ready", accepts ONE connection, connects it
// to SERVER_SOCK and relays bytes both ways until both directions have ended. It records
//   PREFIX.c2s.bin     every byte the client sent, in order
//   PREFIX.s2c.bin     every byte the server sent
//   PREFIX.chunks.txt  one line per read: "<seq> <c2s|s2c> <stream offset> <length>"
// A half-close is passed on (EOF from one side -> shutdown(SHUT_WR) towards the other), so the
// clean close sequence of an RPC client is seen by the server as it would be without the relay.
// Exits 0 when the connection is over; 1 on a setup error, or when nobody connects within 60 s.
// Plain POSIX, no Cap'n Proto: it does not look at what it relays.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

[[noreturn]] void die(const std::string& what) {
  fprintf(stderr, "wire-relay: %s: %s\n", what.c_str(), strerror(errno));
  exit(1);
}

sockaddr_un addressOf(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) {
    errno = ENAMETOOLONG;
    die(path);
  }
  memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// One direction of the relay.
struct Pipe {
  const char* name;
  int from, to;
  FILE* record;
  std::vector<char> pending;  // read from `from`, not yet written to `to`
  size_t written = 0;         // of pending
  size_t offset = 0;          // bytes recorded so far
  bool eof = false;           // `from` ended (or failed)
  bool done = false;          // eof seen and everything passed on (or `to` failed)
};

void finish(Pipe& p) {
  if (!p.done) {
    shutdown(p.to, SHUT_WR);
    p.done = true;
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 4) {
    fprintf(stderr, "usage: wire-relay LISTEN_SOCK SERVER_SOCK PREFIX\n");
    return 2;
  }
  std::string listenPath = argv[1], serverPath = argv[2], prefix = argv[3];

  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  sockaddr_un la = addressOf(listenPath);
  unlink(listenPath.c_str());
  if (bind(listener, reinterpret_cast<sockaddr*>(&la), sizeof(la)) < 0) die("bind " + listenPath);
  if (listen(listener, 1) < 0) die("listen");
  printf("ready\n");
  fflush(stdout);

  pollfd waitAccept{listener, POLLIN, 0};
  int ready = poll(&waitAccept, 1, 60'000);
  if (ready <= 0) {
    fprintf(stderr, "wire-relay: no connection within 60 s\n");
    unlink(listenPath.c_str());
    return 1;
  }
  int client = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) die("accept");
  close(listener);
  unlink(listenPath.c_str());

  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) die("socket");
  sockaddr_un sa = addressOf(serverPath);
  if (connect(server, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) die("connect " + serverPath);
  fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
  fcntl(server, F_SETFL, fcntl(server, F_GETFL) | O_NONBLOCK);

  FILE* c2sFile = fopen((prefix + ".c2s.bin").c_str(), "wb");
  FILE* s2cFile = fopen((prefix + ".s2c.bin").c_str(), "wb");
  FILE* chunks = fopen((prefix + ".chunks.txt").c_str(), "w");
  if (!c2sFile || !s2cFile || !chunks) die("open " + prefix + ".*");

  Pipe pipes[2] = {{"c2s", client, server, c2sFile, {}}, {"s2c", server, client, s2cFile, {}}};
  unsigned long seq = 0;
  std::vector<char> buf(256 * 1024);

  while (!pipes[0].done || !pipes[1].done) {
    pollfd fds[4];
    Pipe* owner[4];
    bool isRead[4];
    int n = 0;
    for (Pipe& p : pipes) {
      if (p.done) continue;
      if (p.pending.empty() && !p.eof) {
        fds[n] = {p.from, POLLIN, 0}; owner[n] = &p; isRead[n] = true; n++;
      } else if (!p.pending.empty()) {
        fds[n] = {p.to, POLLOUT, 0}; owner[n] = &p; isRead[n] = false; n++;
      }
    }
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    for (int i = 0; i < n; i++) {
      if (fds[i].revents == 0) continue;
      Pipe& p = *owner[i];
      if (isRead[i]) {
        ssize_t r = read(p.from, buf.data(), buf.size());
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0) {  // EOF, or a reset: this direction is over
          p.eof = true;
          finish(p);
          continue;
        }
        fwrite(buf.data(), 1, size_t(r), p.record);
        fprintf(chunks, "%lu %s %zu %zd\n", seq++, p.name, p.offset, r);
        p.offset += size_t(r);
        p.pending.assign(buf.data(), buf.data() + r);
        p.written = 0;
      } else {
        ssize_t w = write(p.to, p.pending.data() + p.written, p.pending.size() - p.written);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w < 0) {  // the other side is gone: drop what it can no longer take
          p.pending.clear();
          p.eof = true;
          p.done = true;
          shutdown(p.from, SHUT_RD);
          continue;
        }
        p.written += size_t(w);
        if (p.written == p.pending.size()) {
          p.pending.clear();
          if (p.eof) finish(p);
        }
      }
    }
  }
  fclose(c2sFile);
  fclose(s2cFile);
  fclose(chunks);
  close(client);
  close(server);
  return 0;
}
