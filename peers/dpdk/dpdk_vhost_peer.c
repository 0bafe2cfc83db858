/*
 * dpdk_vhost_peer - a minimal vhost-user back-end built on DPDK's librte_vhost.
 *
 * lockstep uses this program as a real, independent implementation of the
 * back-end side of the vhost-user protocol (in particular the postcopy
 * handshake: POSTCOPY_ADVISE / POSTCOPY_LISTEN / POSTCOPY_END and the
 * postcopy variant of SET_MEM_TABLE) so that its executable specifications
 * can be checked against what DPDK actually does on the wire.
 *
 * Usage: dpdk_vhost_peer --socket PATH [--file-prefix NAME] [--no-postcopy]
 *                        [--leak-fd-per-connection]
 *
 * --leak-fd-per-connection is a deliberate defect for lockstep's negative test of its
 * end-of-trace fd check: every closed connection leaves one /dev/null fd open in the process.
 *
 * DPDK runs in server mode: it creates and listens on PATH, the front-end
 * (the test client) connects. Once the socket is listening and being served
 * (about 1.3 s after start; see the note in main) the program prints exactly
 * one line "ready <pid>" on stdout, then sleeps in sigwait() until SIGTERM or
 * SIGINT, after which it unregisters the driver and tears the EAL down.
 * Connection and device lifecycle events are logged to stderr. The EAL runs
 * without hugepages, PCI, shared config or telemetry.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_vhost.h>

static int new_device(int vid) {
  fprintf(stderr, "dpdk_vhost_peer: new_device vid=%d\n", vid);
  return 0;
}

static void destroy_device(int vid) {
  fprintf(stderr, "dpdk_vhost_peer: destroy_device vid=%d\n", vid);
}

static int new_connection(int vid) {
  fprintf(stderr, "dpdk_vhost_peer: new_connection vid=%d\n", vid);
  return 0;
}

static int leak_fd_per_connection;

static void destroy_connection(int vid) {
  fprintf(stderr, "dpdk_vhost_peer: destroy_connection vid=%d\n", vid);
  if (leak_fd_per_connection && open("/dev/null", O_RDONLY) < 0) perror("dpdk_vhost_peer: open");
}

static const struct rte_vhost_device_ops ops = {
    .new_device = new_device,
    .destroy_device = destroy_device,
    .new_connection = new_connection,
    .destroy_connection = destroy_connection,
};

static void usage(const char* argv0) {
  fprintf(stderr,
          "usage: %s --socket PATH [--file-prefix NAME] [--no-postcopy] "
          "[--leak-fd-per-connection]\n",
          argv0);
  exit(2);
}

int main(int argc, char** argv) {
  const char *path = NULL, *prefix = NULL;
  uint64_t flags = RTE_VHOST_USER_POSTCOPY_SUPPORT;
  char prefix_buf[64], run_dir[PATH_MAX];
  sigset_t sigs;
  int i, sig, rc = 0;

  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--socket") && i + 1 < argc)
      path = argv[++i];
    else if (!strcmp(argv[i], "--file-prefix") && i + 1 < argc)
      prefix = argv[++i];
    else if (!strcmp(argv[i], "--no-postcopy"))
      flags &= ~RTE_VHOST_USER_POSTCOPY_SUPPORT;
    else if (!strcmp(argv[i], "--leak-fd-per-connection"))
      leak_fd_per_connection = 1;
    else
      usage(argv[0]);
  }
  if (!path) usage(argv[0]);
  if (!prefix) {
    snprintf(prefix_buf, sizeof(prefix_buf), "dpdk_vhost_peer_%ld", (long)getpid());
    prefix = prefix_buf;
  }

  /* Block the termination signals before any thread exists, so every
   * EAL/vhost thread inherits the mask and only sigwait() sees them. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  char* eal_argv[] = {
      argv[0],
      "--no-huge",
      "--no-pci",
      "--no-shconf",
      "--no-telemetry",
      "-m",
      "64",
      "-l",
      "0",
      "--file-prefix",
      (char*)prefix,
      "--log-level=*:warning",
      "--log-level=lib.vhost.config:info",
      NULL,
  };
  int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;
  if (rte_eal_init(eal_argc, eal_argv) < 0) {
    fprintf(stderr, "dpdk_vhost_peer: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  /* EAL creates <runtime>/<prefix>/ even with --no-shconf; remove it at exit. */
  snprintf(run_dir, sizeof(run_dir), "%s", rte_eal_get_runtime_dir());

  /* DPDK refuses to bind over a stale socket file left by a dead peer. */
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);

  if (rte_vhost_driver_register(path, flags) != 0) {
    fprintf(stderr, "dpdk_vhost_peer: rte_vhost_driver_register(%s) failed\n", path);
    rc = 1;
    goto out_eal;
  }
  if (rte_vhost_driver_callback_register(path, &ops) != 0 || rte_vhost_driver_start(path) != 0) {
    fprintf(stderr, "dpdk_vhost_peer: cannot start vhost driver on %s\n", path);
    rc = 1;
    goto out_unregister;
  }

  /* rte_vhost_driver_start() has bound and listen()ed on the socket, but
   * DPDK 22.11's "vhost-events" thread only notices the new listen fd
   * when its poll() (1000 ms timeout) next returns: until then a client
   * can connect but is not accept()ed. Wait that out before "ready". */
  usleep(1100 * 1000);
  printf("ready %ld\n", (long)getpid());
  fflush(stdout);

  do sig = 0;
  while (sigwait(&sigs, &sig) != 0);
  fprintf(stderr, "dpdk_vhost_peer: got signal %d, shutting down\n", sig);

out_unregister:
  rte_vhost_driver_unregister(path);
out_eal:
  rte_eal_cleanup();
  rmdir(run_dir);
  return rc;
}
