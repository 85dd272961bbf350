/* checkpoint.c: an application's state handed to warmbootd through the C ABI and taken back.
 *
 * Writes some state into a memfd, seals it (so no descriptor can change it any more, which is
 * what lets the daemon keep it without copying), hands it over as segment "state", gets a new
 * descriptor of it back and checks every byte. The segment is left with the daemon, as an
 * application would leave it for the reboot; running the example again replaces it.
 *
 * Being told of a warm reboot is optional. With --wait-prepare it then waits for one round's
 * prepare (`warmboot preserve` runs a round) and answers ready: its set is complete.
 *
 *   usage: checkpoint-c [--wait-prepare] [SOCKET]       (default /run/warmboot/api.sock)
 *
 * Exit 0 when the bytes came back identical, 1 otherwise (the message says why).
 */
#define _GNU_SOURCE /* memfd_create, F_ADD_SEALS */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <warmboot/client_c.h>

#define STATE_SIZE 65536

/* The application's state: a header line, then a pattern. */
static void make_state(unsigned char* buf, size_t size) {
  const char* header = "warmboot checkpoint example (C), generation 1\n";
  size_t i;
  for (i = 0; i < size; ++i) buf[i] = (unsigned char)(i * 7 % 251);
  memcpy(buf, header, strlen(header));
}

static int write_all(int fd, const unsigned char* buf, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, buf + done, size - done);
    if (n < 0) return -1;
    done += (size_t)n;
  }
  return 0;
}

int main(int argc, char** argv) {
  const int wait_prepare = argc > 1 && strcmp(argv[1], "--wait-prepare") == 0;
  const char* socket_path = argc > 1 + wait_prepare ? argv[1 + wait_prepare] : NULL;
  static unsigned char state[STATE_SIZE], back[STATE_SIZE];
  wb_client* client = NULL;
  int memfd = -1, fd = -1, rc = 1, err;
  uint64_t size = 0, round = 0, deadline_ms = 0;
  size_t got = 0;
  int prepared = 0;

  err = wb_client_connect("checkpoint-c", socket_path, &client);
  if (err != WB_OK) {
    fprintf(stderr, "checkpoint-c: %s (%s)\n", wb_last_error(NULL), wb_error_name(err));
    return 1;
  }
  printf("connected to warmbootd as app checkpoint-c\n");

  make_state(state, sizeof state);
  memfd = memfd_create("checkpoint-c-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0 || write_all(memfd, state, sizeof state) != 0 ||
      fcntl(memfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) != 0) {
    perror("checkpoint-c: memfd");
    goto out;
  }
  printf("wrote %d bytes of state into a memfd and sealed it (write, grow, shrink)\n", STATE_SIZE);

  err = wb_put_fd(client, "state", memfd);
  if (err != WB_OK) {
    fprintf(stderr, "checkpoint-c: put: %s (%s)\n", wb_last_error(client), wb_error_name(err));
    goto out;
  }
  printf("handed it over as segment 'state' (by descriptor: nothing copied)\n");

  err = wb_get(client, "state", &fd, &size);
  if (err != WB_OK) {
    fprintf(stderr, "checkpoint-c: get: %s (%s)\n", wb_last_error(client), wb_error_name(err));
    goto out;
  }
  if (size != STATE_SIZE) {
    fprintf(stderr, "checkpoint-c: got back %llu bytes, handed over %d\n", (unsigned long long)size,
            STATE_SIZE);
    goto out;
  }
  while (got < sizeof back) {
    ssize_t n = pread(fd, back + got, sizeof back - got, (off_t)got);
    if (n <= 0) {
      perror("checkpoint-c: read");
      goto out;
    }
    got += (size_t)n;
  }
  if (memcmp(state, back, sizeof state) != 0) {
    fprintf(stderr, "checkpoint-c: the bytes that came back differ\n");
    goto out;
  }
  printf("got it back: %llu bytes, identical\n", (unsigned long long)size);

  if (wait_prepare) {
    printf("waiting for a warm reboot's prepare\n");
    fflush(stdout);
    err = wb_wait_prepare(client, -1, &round, &deadline_ms, &prepared);
    if (err == WB_OK) err = wb_ready(client, round); /* the set is complete as it stands */
    if (err != WB_OK) {
      fprintf(stderr, "checkpoint-c: round: %s (%s)\n", wb_last_error(client), wb_error_name(err));
      goto out;
    }
    printf("answered ready to round %llu (within %llu ms)\n", (unsigned long long)round,
           (unsigned long long)deadline_ms);
  }
  rc = 0;

out:
  if (fd >= 0) close(fd);
  if (memfd >= 0) close(memfd);
  wb_client_close(client);
  return rc;
}
