#include "channel.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace hearth::vmm::detail {

channel::channel(io_loop& loop, int fd)
    : loop_(loop)
    , fd_(fd) {}

channel::~channel() {
  // Subclasses call shutdown() in their destructors (it calls on_closed).
  if (watching_.exchange(false))
    loop_.unwatch(fd_);
  close(fd_);
}

result<int> channel::connect_unix(const std::string& path,
                                  std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return error{errc::restore_failed, "socket path is too long: " + path};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return error{errc::restore_failed, std::string("socket: ") + std::strerror(errno)};
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      // Reads go through poll; a write that stalls this long means QEMU hung.
      timeval send_timeout{5, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
      return fd;
    }
    const int err = errno;
    close(fd);
    if ((err != ENOENT && err != ECONNREFUSED) ||
        std::chrono::steady_clock::now() >= deadline)
      return error{errc::restore_failed,
                   "cannot connect to " + path + ": " + std::strerror(err)};
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void channel::start() {
  watching_ = true;
  loop_.watch(fd_, [this] { readable(); });
}

bool channel::closed() const {
  std::lock_guard<std::mutex> lock(close_mutex_);
  return closed_;
}

void channel::on_close(std::function<void()> handler) {
  std::lock_guard<std::mutex> lock(close_mutex_);
  close_handler_ = std::move(handler);
}

result<bool> channel::send(const std::string& data) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return error{errc::restore_failed,
                   std::string("send failed: ") + std::strerror(errno)};
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void channel::shutdown() {
  if (watching_.exchange(false))
    loop_.unwatch(fd_);
  ::shutdown(fd_, SHUT_RDWR);
  bool was_closed;
  {
    std::lock_guard<std::mutex> lock(close_mutex_);
    was_closed = closed_;
    closed_ = true;
  }
  if (!was_closed)
    on_closed();
}

void channel::readable() {
  char chunk[65536];
  bool ended = false;
  for (;;) {
    const ssize_t n = recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof chunk)
        break;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    ended = true; // end of stream or a hard error: the VM is gone (or going)
    break;
  }
  if (!buffer_.empty())
    on_bytes(buffer_);
  if (ended) {
    if (watching_.exchange(false))
      loop_.unwatch(fd_);
    std::function<void()> handler;
    bool was_closed;
    {
      std::lock_guard<std::mutex> lock(close_mutex_);
      was_closed = closed_;
      closed_ = true;
      handler = close_handler_;
    }
    if (was_closed)
      return;
    on_closed();
    if (handler)
      handler();
  }
}

} // namespace hearth::vmm::detail
