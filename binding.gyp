# binding.gyp — the AF_PACKET addon (native/packet_socket.c), the real-time scheduling addon (native/realtime.c,
# build/Release/realtime.node, loaded by src/realtime.ts for --realtime-priority), the XDP ARP/NDP responder
# (native/xdp_responder.c, build/Release/xdp_responder.node, loaded by src/net/xdp-responder.ts for --xdp-answers) and
# the start-up page release (native/release_pages.c, build/Release/release_pages.node, loaded by src/release-pages.ts).
# Being at the repository root, it is built by `npm ci` / `npm install` (npm runs `node-gyp rebuild` for a package
# with a binding.gyp and no install script);
# by hand: `npm exec -- node-gyp rebuild` or `node "$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js" rebuild`.
# Output: build/Release/packet_socket.node, loaded by src/net/packet-socket.ts. Linux only (packet(7)).
{
  "targets": [
    {
      "target_name": "packet_socket",
      "sources": ["native/packet_socket.c", "native/quiet.c", "native/recv_batch.c", "native/neighbor_responder.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "xdp_responder",
      "sources": ["native/xdp_responder.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "realtime",
      "sources": ["native/realtime.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "release_pages",
      "sources": ["native/release_pages.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
