export * from "./types.js";
export * from "./uri-encoding.js";
export * from "./canonical-request.js";
export * from "./scope.js";
export * from "./string-to-sign.js";
export * from "./authorization.js";
export * from "./sign-request.js";
