#include "util/sigbus_guard.h"

#include <setjmp.h>
#include <signal.h>

#include <mutex>

namespace warmboot {
namespace {

thread_local sigjmp_buf* t_guard = nullptr;

void OnSigbus(int signo) {
  if (sigjmp_buf* jb = t_guard) siglongjmp(*jb, 1);
  // Not inside a guard: the default action, as if no handler had been installed.
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

void Install() {
  struct sigaction sa {};
  sa.sa_handler = OnSigbus;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;  // a second guarded read may fault again after the jump
  ::sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace

bool GuardSigbus(const std::function<void()>& read) {
  static std::once_flag once;
  std::call_once(once, Install);
  sigjmp_buf jb;
  // No signal mask saved or restored (savemask 0): SA_NODEFER leaves SIGBUS unblocked, and this
  // costs no system call per guarded read.
  if (sigsetjmp(jb, 0) != 0) {
    t_guard = nullptr;
    return false;
  }
  t_guard = &jb;
  read();
  t_guard = nullptr;
  return true;
}

}  // namespace warmboot
