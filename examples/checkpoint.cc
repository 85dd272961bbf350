// checkpoint.cc: an application's state handed to warmbootd through the C++ client and taken
// back.
//
// Writes some state into a memfd, seals it (so no descriptor can change it any more, which is
// what lets the daemon keep it without copying), hands it over as segment "state", gets a new
// descriptor of it back and checks every byte. The segment is left with the daemon, as an
// application would leave it for the reboot; running the example again replaces it.
//
//   usage: checkpoint-cc [SOCKET]      (default /run/warmboot/api.sock)
//
// Exit 0 when the bytes came back identical, 1 otherwise (the message says why).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <warmboot/client.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <string>

namespace {

// The application's state: a header line, then a pattern.
std::string MakeState(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 7 % 251);
  const std::string header = "warmboot checkpoint example (C++), generation 1\n";
  s.replace(0, header.size(), header);
  return s;
}

int Fail(const std::string& what) {
  std::cerr << "checkpoint-cc: " << what << "\n";
  return 1;
}

// Closes a descriptor when it goes out of scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

int main(int argc, char** argv) {
  using warmboot::client::Client;
  const std::string socket = argc > 1 ? argv[1] : warmboot::client::kDefaultSocket;
  auto client = Client::Connect("checkpoint-cc", socket);
  if (!client.ok()) return Fail(client.status().message());
  std::cout << "connected to warmbootd as app checkpoint-cc\n";

  const std::string state = MakeState(64 * 1024);
  Fd memfd{::memfd_create("checkpoint-cc-state", MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (memfd.fd < 0 ||
      ::write(memfd.fd, state.data(), state.size()) != static_cast<ssize_t>(state.size()) ||
      ::fcntl(memfd.fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) != 0) {
    return Fail(std::string("memfd: ") + std::strerror(errno));
  }
  std::cout << "wrote " << state.size()
            << " bytes of state into a memfd and sealed it (write, grow, shrink)\n";

  if (warmboot::Status s = client->PutFd("state", memfd.fd); !s.ok()) {
    return Fail("put: " + s.message());
  }
  std::cout << "handed it over as segment 'state' (by descriptor: nothing copied)\n";

  uint64_t size = 0;
  auto got = client->Get("state", &size);
  if (!got.ok()) return Fail("get: " + got.status().message());
  Fd back_fd{*got};
  std::string back(size, '\0');
  for (size_t done = 0; done < size;) {
    ssize_t n = ::pread(back_fd.fd, back.data() + done, size - done, static_cast<off_t>(done));
    if (n <= 0) return Fail(std::string("read: ") + (n < 0 ? std::strerror(errno) : "short"));
    done += static_cast<size_t>(n);
  }
  if (back != state) {
    return Fail("got back " + std::to_string(size) + " bytes that differ from the " +
                std::to_string(state.size()) + " handed over");
  }
  std::cout << "got it back: " << size << " bytes, identical\n";
  return 0;
}
