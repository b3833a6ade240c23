export { createSession } from "./create-session.js";
export type { CreateSessionOptions, CreateSessionParams, CreateSessionResult, Sleep } from "./types.js";
export { createSignedCreateSessionRequest, type SignedCreateSessionRequest } from "./signed-request.js";
export { buildCreateSessionRequest, type CreateSessionHttpRequest, type CreateSessionRequestParams } from "./request.js";
export { resolveEndpoint, parseEndpointUrl, regionalEndpointUrl, type Endpoint, type EndpointSettings, type EndpointSource } from "./endpoint.js";
export { PARTITIONS, partitionOf, type Partition } from "./partitions.js";
export { resolveSessionRegion, type SessionRegion } from "./region.js";
