// The read side of the user's code caches (code-cache.ts), built alone as dist/user-code-cache.cjs: every run
// under another Node than the one that built the package compiles it without a cache, so it holds what a run
// that finds its cache needs, and not the writing (dist/user-code-cache-writer.cjs, loaded only when a cache is
// to be written).
export { readUserCodeCache, userCodeCache, type UserCodeCache } from "./code-cache.js";
