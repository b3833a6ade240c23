import { describe, expect, it, vi } from "vitest";
import { servedCredentials } from "../../src/agent/agent-server.js";
import { goJsonStringify, toCredentialProcessOutput } from "../../src/rolesanywhere/credentials.js";

const credentials = (secretAccessKey: string, sessionToken: string) =>
  toCredentialProcessOutput({ accessKeyId: "ASIAEXAMPLE", secretAccessKey, sessionToken, expiration: new Date("2030-01-02T03:04:05Z") });

describe("the agent's served credentials", () => {
  it.each([
    ["base64, as AWS sends", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+=", "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJHMEU="],
    ["what Go escapes", "a<b>&c\u2028d\u2029", "\"quoted\"\\back\nline\u0001"],
    ["not ASCII", "pässwörd-\u{1f511}", "lone \ud800 surrogate"],
  ])("are goJsonStringify's bytes exactly (%s)", (_, key, token) => {
    const output = credentials(key, token);
    expect(servedCredentials(output).toString("utf8")).toBe(goJsonStringify(output));
    expect(servedCredentials(output).equals(Buffer.from(goJsonStringify(output)))).toBe(true);
  });

  it("make no string of the secret key beside the caller's own (JSON.stringify's text would be one more copy)", () => {
    const output = credentials("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "IQoJb3JpZ2luX2VjEPT");
    const stringify = vi.spyOn(JSON, "stringify");
    try {
      const body = servedCredentials(output);
      expect(body.includes("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")).toBe(true);
      // Before the fix the agent served goJsonStringify's text: JSON.stringify of the whole answer.
      expect(stringify.mock.calls.filter(([v]) => typeof v === "object").length).toBe(0);
      expect(body.byteOffset === 0 && body.buffer.byteLength === body.length).toBe(true);
    } finally {
      stringify.mockRestore();
    }
  });
});
