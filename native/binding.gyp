# The project's own small N-API addon (plain C, ABI-stable across Node versions): built by scripts/build.mjs
# with node-gyp and shipped prebuilt in dist/native/<platform>-<arch>/. Deliberately not at the package root:
# npm would otherwise try to compile it on every install (the prebuilt file is what users get).
{
  "targets": [
    {
      "target_name": "raa_native",
      "sources": ["raa_native.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "conditions": [["OS=='linux'", { "libraries": ["-ldl"] }]],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=c11", "-Wall", "-Wextra"] }
    }
  ]
}
