// The official SDKs against the mock gateway: node sdk_clients.mjs BASE_URL GATEWAY_LOG
// Every check prints "ok" or "FAIL"; the exit code is the number of failures (capped at 1).
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';

const [base, logPath] = process.argv.slice(2);
if (!base) throw new Error('usage: node sdk_clients.mjs BASE_URL [GATEWAY_LOG]');

// Not every SDK exports ./package.json: read it from node_modules next to this script.
for (const name of ['openai', '@anthropic-ai/sdk', '@google/genai']) {
  const pkg = JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), 'utf8'));
  console.log(`sdk ${name}@${pkg.version}`);
}

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}: ${err && err.stack ? err.stack : err}`);
  }
}
function expectEq(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}
function expectPositive(value, what) {
  if (!(typeof value === 'number' && value > 0)) {
    throw new Error(`${what}: expected a positive number, got ${JSON.stringify(value)}`);
  }
}
async function expectStatus(promise, status, what) {
  try {
    await promise;
  } catch (err) {
    expectEq(err.status ?? err.code, status, `${what} status`);
    return err;
  }
  throw new Error(`${what}: expected an error with status ${status}`);
}

// ---- OpenAI ----------------------------------------------------------------------------------
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'sk-real-client-openai', maxRetries: 0 });

await check('openai chat.completions.create (non-streaming)', async () => {
  const prompt = 'hello from openai chat';
  const r = await openai.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: prompt }],
  });
  expectEq(r.choices[0].message.content, `MOCK: ${prompt}`, 'text');
  expectEq(r.choices[0].finish_reason, 'stop', 'finish_reason');
  expectPositive(r.usage?.prompt_tokens, 'usage.prompt_tokens');
  expectPositive(r.usage?.completion_tokens, 'usage.completion_tokens');
});

await check('openai chat.completions.create (streaming)', async () => {
  const prompt = 'streaming from openai chat';
  const stream = await openai.chat.completions.create({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: prompt }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  expectEq(text, `MOCK: ${prompt}`, 'text');
  if (chunks < 4) throw new Error(`expected several chunks, got ${chunks}`);
  expectPositive(usage?.prompt_tokens, 'usage.prompt_tokens');
  expectPositive(usage?.completion_tokens, 'usage.completion_tokens');
});

await check('openai chat.completions.stream (tool call)', async () => {
  const stream = openai.chat.completions.stream({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'please use the tool' }],
    tools: [{ type: 'function', function: { name: 'bash', parameters: { type: 'object' } } }],
  });
  const final = await stream.finalChatCompletion();
  const call = final.choices[0].message.tool_calls?.[0];
  expectEq(call?.function?.name, 'bash', 'tool name');
  expectEq(JSON.parse(call.function.arguments).command, 'touch marker', 'tool arguments');
  expectEq(final.choices[0].finish_reason, 'tool_calls', 'finish_reason');
});

await check('openai responses.create (non-streaming)', async () => {
  const prompt = 'hello from openai responses';
  const r = await openai.responses.create({ model: 'gpt-5.5', input: prompt });
  expectEq(r.output_text, `MOCK: ${prompt}`, 'output_text');
  expectEq(r.status, 'completed', 'status');
  expectPositive(r.usage?.input_tokens, 'usage.input_tokens');
  expectPositive(r.usage?.output_tokens, 'usage.output_tokens');
});

await check('openai responses.create (streaming)', async () => {
  const prompt = 'streaming from openai responses';
  const stream = await openai.responses.create({
    model: 'gpt-5.5',
    input: [{ role: 'user', content: [{ type: 'input_text', text: prompt }] }],
    stream: true,
  });
  let text = '';
  let completed = null;
  const types = [];
  for await (const event of stream) {
    types.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  expectEq(text, `MOCK: ${prompt}`, 'text');
  expectEq(types[0], 'response.created', 'first event');
  expectEq(types[types.length - 1], 'response.completed', 'last event');
  expectPositive(completed?.usage?.input_tokens, 'usage.input_tokens');
  expectPositive(completed?.usage?.output_tokens, 'usage.output_tokens');
});

await check('openai responses.stream (function call)', async () => {
  const stream = openai.responses.stream({
    model: 'gpt-5.5',
    input: 'please use the tool',
    tools: [{ type: 'function', name: 'bash', parameters: { type: 'object', properties: {} }, strict: false }],
  });
  const final = await stream.finalResponse();
  const call = final.output.find((item) => item.type === 'function_call');
  expectEq(call?.name, 'bash', 'function name');
  expectEq(JSON.parse(call.arguments).command, 'touch marker', 'function arguments');
});

await check('openai models.list', async () => {
  const ids = [];
  for await (const model of openai.models.list()) ids.push(model.id);
  if (!ids.includes('gpt-4.1') || !ids.includes('mock-model')) throw new Error(`models: ${ids}`);
});

await check('openai 429 (RateLimitError)', async () => {
  const err = await expectStatus(
    openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'rate limit me' }] }),
    429, 'chat');
  if (!(err instanceof OpenAI.RateLimitError)) throw new Error(`not a RateLimitError: ${err}`);
  expectEq(err.headers?.get?.('retry-after') ?? err.headers?.['retry-after'], '1', 'retry-after');
});

// ---- Anthropic -------------------------------------------------------------------------------
const anthropic = new Anthropic({ baseURL: base, apiKey: 'sk-ant-real-client', maxRetries: 0 });

await check('anthropic messages.create (non-streaming)', async () => {
  const prompt = 'hello from anthropic';
  const r = await anthropic.messages.create({
    model: 'claude-opus-5-5',
    max_tokens: 64,
    system: 'be brief',
    messages: [{ role: 'user', content: prompt }],
  });
  expectEq(r.content[0].type, 'text', 'content type');
  expectEq(r.content[0].text, `MOCK: ${prompt}`, 'text');
  expectEq(r.stop_reason, 'end_turn', 'stop_reason');
  expectPositive(r.usage?.input_tokens, 'usage.input_tokens');
  expectPositive(r.usage?.output_tokens, 'usage.output_tokens');
});

await check('anthropic messages.stream (streaming)', async () => {
  const prompt = 'streaming from anthropic';
  const stream = anthropic.messages.stream({
    model: 'claude-opus-5-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: [
      { type: 'text', text: prompt },
      { type: 'text', text: '<system-reminder>\nignore me\n</system-reminder>' },
    ] }],
  });
  let text = '';
  stream.on('text', (delta) => { text += delta; });
  const final = await stream.finalMessage();
  expectEq(text, `MOCK: ${prompt}`, 'streamed text');
  expectEq(final.content[0].text, `MOCK: ${prompt}`, 'final text');
  expectEq(final.stop_reason, 'end_turn', 'stop_reason');
  expectPositive(final.usage?.input_tokens, 'usage.input_tokens');
  expectPositive(final.usage?.output_tokens, 'usage.output_tokens');
});

await check('anthropic messages.stream (tool_use)', async () => {
  const stream = anthropic.messages.stream({
    model: 'claude-opus-5-5',
    max_tokens: 64,
    tools: [{ name: 'bash', input_schema: { type: 'object' } }],
    messages: [{ role: 'user', content: 'please use the tool' }],
  });
  const final = await stream.finalMessage();
  const block = final.content.find((b) => b.type === 'tool_use');
  expectEq(block?.name, 'bash', 'tool name');
  expectEq(block?.input?.command, 'touch marker', 'tool input');
  expectEq(final.stop_reason, 'tool_use', 'stop_reason');
});

await check('anthropic models.list', async () => {
  const ids = [];
  for await (const model of anthropic.models.list()) ids.push(model.id);
  if (!ids.includes('claude-opus-5-5')) throw new Error(`models: ${ids}`);
});

await check('anthropic 429 (RateLimitError)', async () => {
  const err = await expectStatus(
    anthropic.messages.create({ model: 'claude-opus-5-5', max_tokens: 8,
      messages: [{ role: 'user', content: 'rate limit me' }] }),
    429, 'messages');
  if (!(err instanceof Anthropic.RateLimitError)) throw new Error(`not a RateLimitError: ${err}`);
  expectEq(err.error?.error?.type, 'rate_limit_error', 'error.type');
});

// ---- Gemini ----------------------------------------------------------------------------------
const ai = new GoogleGenAI({ apiKey: 'real-client-gemini-key', httpOptions: { baseUrl: base } });

await check('gemini models.generateContent (non-streaming)', async () => {
  const prompt = 'hello from gemini';
  const r = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: prompt });
  expectEq(r.text, `MOCK: ${prompt}`, 'text');
  expectEq(r.candidates?.[0]?.finishReason, 'STOP', 'finishReason');
  expectPositive(r.usageMetadata?.promptTokenCount, 'usageMetadata.promptTokenCount');
  expectPositive(r.usageMetadata?.candidatesTokenCount, 'usageMetadata.candidatesTokenCount');
});

await check('gemini models.generateContentStream (streaming)', async () => {
  const prompt = 'streaming from gemini';
  const stream = await ai.models.generateContentStream({
    model: 'gemini-2.5-flash',
    contents: [{ role: 'user', parts: [{ text: prompt }] }],
  });
  let text = '';
  let usage = null;
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.text ?? '';
    if (chunk.usageMetadata) usage = chunk.usageMetadata;
    if (chunk.candidates?.[0]?.finishReason) finish = chunk.candidates[0].finishReason;
  }
  expectEq(text, `MOCK: ${prompt}`, 'text');
  if (chunks < 2) throw new Error(`expected several chunks, got ${chunks}`);
  expectEq(finish, 'STOP', 'finishReason');
  expectPositive(usage?.promptTokenCount, 'usageMetadata.promptTokenCount');
  expectPositive(usage?.totalTokenCount, 'usageMetadata.totalTokenCount');
});

await check('gemini generateContent (functionCall)', async () => {
  const r = await ai.models.generateContent({
    model: 'gemini-2.5-flash',
    contents: 'please use the tool',
    config: { tools: [{ functionDeclarations: [{ name: 'bash' }] }] },
  });
  const call = r.functionCalls?.[0];
  expectEq(call?.name, 'bash', 'function name');
  expectEq(call?.args?.command, 'touch marker', 'function args');
});

await check('gemini models.list', async () => {
  const names = [];
  const pager = await ai.models.list();
  for await (const model of pager) names.push(model.name);
  if (!names.includes('models/gemini-2.5-flash')) throw new Error(`models: ${names}`);
});

await check('gemini 429 (ApiError)', async () => {
  await expectStatus(ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'rate limit me' }),
    429, 'generateContent');
});

// ---- the gateway's own record ----------------------------------------------------------------
if (logPath) {
  await check('gateway log: one JSON line per request, no API key', async () => {
    const text = readFileSync(logPath, 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    if (lines.length < 18) throw new Error(`expected at least 18 log lines, got ${lines.length}`);
    for (const key of ['sk-real-client-openai', 'sk-ant-real-client', 'real-client-gemini-key']) {
      if (text.includes(key)) throw new Error(`the log contains the API key ${key}`);
    }
    const prompts = lines.map((l) => l.lastUserText);
    for (const p of ['hello from openai chat', 'streaming from anthropic', 'streaming from gemini']) {
      if (!prompts.includes(p)) throw new Error(`no log line for "${p}"`);
    }
  });
}

console.log(failures === 0 ? 'all SDK checks passed' : `${failures} SDK check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
