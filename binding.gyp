{
  # Native helper for the agent (agent/peercred/): the kernel's word on who is
  # at the other end of a Unix socket (SO_PEERCRED, SO_PEERPIDFD) and whether a
  # pidfd's process is still alive. Built by `npm install` / `npm ci` through
  # node-gyp; the output is build/Release/peercred.node. Linux only.
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["agent/peercred/peercred.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ]
}
