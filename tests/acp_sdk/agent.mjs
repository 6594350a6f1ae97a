// A minimal ACP agent written with the official TypeScript SDK (@agentclientprotocol/sdk): the
// SDK does the framing, the JSON-RPC bookkeeping and the schema checks, so drover's client meets
// an implementation of the protocol it did not write. Answers "SDK: <prompt>" in two chunks, keeps
// its sessions in a JSON file (so that the next process lists them), asks for authentication on
// session/new until `authenticate {methodId:"sdk-key"}`, and logs every call to a file.
//
//   node agent.mjs STATE_FILE LOG_FILE
import fs from "node:fs";
import { Readable, Writable } from "node:stream";

import { RequestError, agent, methods, ndJsonStream } from "@agentclientprotocol/sdk";

const [stateFile, logFile] = process.argv.slice(2);
const log = (entry) => fs.appendFileSync(logFile, JSON.stringify(entry) + "\n");
const load = () => {
  try {
    return JSON.parse(fs.readFileSync(stateFile, "utf8"));
  } catch {
    return { next: 1, sessions: {} };
  }
};
const save = (state) => fs.writeFileSync(stateFile, JSON.stringify(state));
let authenticated = false;

agent({ name: "drover-sdk-test-agent" })
  .onRequest(methods.agent.initialize, ({ params }) => {
    log({ method: "initialize", protocolVersion: params.protocolVersion });
    return {
      protocolVersion: 1,
      agentCapabilities: {
        loadSession: false,
        sessionCapabilities: { list: {}, close: {}, delete: {} },
      },
      authMethods: [{ id: "sdk-key", name: "SDK test key" }],
      agentInfo: { name: "sdk-test-agent", version: "1.0.0" },
    };
  })
  .onRequest(methods.agent.authenticate, ({ params }) => {
    log({ method: "authenticate", methodId: params.methodId });
    if (params.methodId !== "sdk-key") throw RequestError.invalidParams({ methodId: params.methodId });
    authenticated = true;
    return {};
  })
  .onRequest(methods.agent.session.new, ({ params }) => {
    log({ method: "session/new", cwd: params.cwd, authenticated });
    if (!authenticated) throw RequestError.authRequired();
    const state = load();
    const sessionId = `sdk-session-${state.next++}`;
    state.sessions[sessionId] = { cwd: params.cwd, title: null, updatedAt: "2026-02-03T04:05:06Z" };
    save(state);
    return { sessionId };
  })
  .onRequest(methods.agent.session.prompt, async ({ params, client }) => {
    const text = params.prompt
      .filter((block) => block.type === "text")
      .map((block) => block.text)
      .join("");
    log({ method: "session/prompt", sessionId: params.sessionId, text });
    const state = load();
    const session = state.sessions[params.sessionId];
    if (!session) throw RequestError.sessionNotFound(params.sessionId);
    session.title ??= `SDK: ${text}`;
    save(state);
    for (const piece of ["SDK: ", text])
      await client.notify(methods.client.session.update, {
        sessionId: params.sessionId,
        update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text: piece } },
      });
    return { stopReason: "end_turn" };
  })
  .onNotification(methods.agent.session.cancel, ({ params }) => {
    log({ method: "session/cancel", sessionId: params.sessionId });
  })
  .onRequest(methods.agent.session.list, ({ params }) => {
    log({ method: "session/list", cwd: params.cwd ?? null });
    const sessions = Object.entries(load().sessions)
      .filter(([, s]) => !params.cwd || s.cwd === params.cwd)
      .map(([sessionId, s]) => ({ sessionId, cwd: s.cwd, title: s.title, updatedAt: s.updatedAt }));
    return { sessions };
  })
  .onRequest(methods.agent.session.close, ({ params }) => {
    log({ method: "session/close", sessionId: params.sessionId });
    return {};
  })
  .onRequest(methods.agent.session.delete, ({ params }) => {
    log({ method: "session/delete", sessionId: params.sessionId });
    const state = load();
    if (!state.sessions[params.sessionId]) throw RequestError.sessionNotFound(params.sessionId);
    delete state.sessions[params.sessionId];
    save(state);
    return {};
  })
  .connect(ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin)));
