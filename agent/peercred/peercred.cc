// Sigil agent native helper: the kernel's word on who is at the other end of
// a Unix socket. Four small functions, each a thin, defensive wrapper around
// one system call; everything else (policy, error codes) lives in TypeScript.
//
//   getPeerCred(fd)     -> { pid, uid, gid }   getsockopt(SO_PEERCRED)
//   getPeerPidfd(fd)    -> pidfd | -1          getsockopt(SO_PEERPIDFD); -1 when
//                                              the kernel lacks the option
//   pidfdIsAlive(pidfd) -> boolean             pidfd_send_signal(pidfd, 0)
//   closeFd(fd)         -> undefined           close(2)
//
// Trust: the credentials are those the kernel recorded when the peer called
// connect(); the pidfd pins that very process, so a reused PID cannot be
// mistaken for it. Errors throw a JS Error carrying `errno`, `code` and
// `syscall`; wrong argument types throw a TypeError.

#include <napi.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#ifdef __linux__
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

// The option exists since Linux 6.5; older C library headers lack the constant.
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
// Same number on every architecture (the unified syscall table, Linux 5.1+).
#ifndef __NR_pidfd_send_signal
#define __NR_pidfd_send_signal 424
#endif
#endif

namespace {

const char* ErrnoName(int err) {
  switch (err) {
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case ENODATA: return "ENODATA";
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    default: return "UNKNOWN";
  }
}

// Throws `Error("<syscall>: <strerror>")` with errno, code and syscall properties.
Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Reads argument 0 as a file descriptor: an integer in [0, INT_MAX].
bool ReadFd(const Napi::CallbackInfo& info, int* out) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "file descriptor must be a number").ThrowAsJavaScriptException();
    return false;
  }
  double value = info[0].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(value) || value != std::floor(value) || value < 0 || value > INT_MAX) {
    Napi::TypeError::New(env, "file descriptor must be a non-negative integer")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

#ifdef __linux__

Napi::Value GetPeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ReadFd(info, &fd)) return env.Undefined();
  struct ucred cred;
  std::memset(&cred, 0, sizeof cred);
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ThrowErrno(env, "getsockopt(SO_PEERCRED)", errno);
  }
  if (len != sizeof cred) return ThrowErrno(env, "getsockopt(SO_PEERCRED)", EINVAL);
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(cred.pid)));
  result.Set("uid", Napi::Number::New(env, static_cast<double>(cred.uid)));
  result.Set("gid", Napi::Number::New(env, static_cast<double>(cred.gid)));
  return result;
}

Napi::Value GetPeerPidfd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ReadFd(info, &fd)) return env.Undefined();
  int pidfd = -1;
  socklen_t len = sizeof pidfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
    int err = errno;
    // Only "no such option" means an old kernel. EINVAL/ESRCH/ENODATA mean the
    // peer is gone or unknown, which the caller must treat as a failure.
    if (err == ENOPROTOOPT) return Napi::Number::New(env, -1);
    return ThrowErrno(env, "getsockopt(SO_PEERPIDFD)", err);
  }
  if (len != sizeof pidfd || pidfd < 0) {
    if (pidfd >= 0) close(pidfd);
    return ThrowErrno(env, "getsockopt(SO_PEERPIDFD)", EINVAL);
  }
  // The kernel sets O_CLOEXEC on pidfds; make sure of it (never leak to children).
  int flags = fcntl(pidfd, F_GETFD);
  if (flags < 0 || fcntl(pidfd, F_SETFD, flags | FD_CLOEXEC) != 0) {
    int err = errno;
    close(pidfd);
    return ThrowErrno(env, "fcntl(FD_CLOEXEC)", err);
  }
  return Napi::Number::New(env, pidfd);
}

Napi::Value PidfdIsAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd;
  if (!ReadFd(info, &pidfd)) return env.Undefined();
  if (syscall(__NR_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0) {
    return Napi::Boolean::New(env, true);
  }
  int err = errno;
  if (err == ESRCH) return Napi::Boolean::New(env, false);
  // EPERM: the process exists but we may not signal it.
  if (err == EPERM) return Napi::Boolean::New(env, true);
  return ThrowErrno(env, "pidfd_send_signal", err);
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ReadFd(info, &fd)) return env.Undefined();
  // Never retry close() on EINTR: on Linux the descriptor is already released.
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(env, "close", errno);
  return env.Undefined();
}

#else  // !__linux__

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  return ThrowErrno(info.Env(), "peercred (Linux only)", ENOSYS);
}
#define GetPeerCred Unsupported
#define GetPeerPidfd Unsupported
#define PidfdIsAlive Unsupported
#define CloseFd Unsupported

#endif

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("getPeerCred", Napi::Function::New(env, GetPeerCred, "getPeerCred"));
  exports.Set("getPeerPidfd", Napi::Function::New(env, GetPeerPidfd, "getPeerPidfd"));
  exports.Set("pidfdIsAlive", Napi::Function::New(env, PidfdIsAlive, "pidfdIsAlive"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  return exports;
}

}  // namespace

NODE_API_MODULE(peercred, Init)
