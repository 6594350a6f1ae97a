#!/usr/bin/env python3
"""Writes examples/batch-sample.jsonl: a realistic `drover batch` output (240 invoices through
three routes, a few failures) for the README's report screenshot. Deterministic."""
import hashlib, json, random, sys

rng = random.Random(13)
routes = [("claude-cli:cli:default:claude-sonnet-4-5", "claude-sonnet-4-5", 0.003, 0.015, 9000),
          ("codex-acp:acp:default:gpt-5-codex", "gpt-5-codex", 0.00125, 0.01, 7000),
          ("openai:api:main:gpt-4.1-mini", "gpt-4.1-mini", 0.0004, 0.0016, 1800)]
vendors = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"]
failures = [("timeout", "no answer within 120 s (total timeout); the harness was stopped", False),
            ("rate_limit", "429 Too Many Requests: rate limit reached for requests per minute", True),
            ("validation_error", "the answer did not validate against the schema: /total: "
             "required property missing; /currency: \"EURO\" is not one of [\"EUR\",\"USD\",\"GBP\"]", False),
            ("harness_error", "claude exited with status 1: Error: ENOENT: no such file or directory, "
             "open '/tmp/drover-att-4411-Qx81aZ/attachments/invoice.pdf'", False)]
out = []
for i in range(240):
    vendor = vendors[i % len(vendors)]
    path = f"invoices/2025/{vendor}/INV-{1000 + i}.pdf"
    route, model, pin, pout, base = routes[i % 3]
    ms = base * rng.lognormvariate(0, 0.45)
    attempts = 1
    error = None
    r = rng.random()
    if r < 0.035:
        code, message, retryable = failures[0]; ms = 120000 + rng.random() * 900; attempts = 1
    elif r < 0.06:
        code, message, retryable = failures[1]; attempts = 3; ms *= 2.5
    elif r < 0.085:
        code, message, retryable = failures[2]; attempts = 2; ms *= 2
    elif r < 0.095:
        code, message, retryable = failures[3]; attempts = 1; ms = 400 + rng.random() * 300
    else:
        code = None
    if code:
        error = {"code": code, "message": message, "retryable": retryable}
    tin = int(1800 + rng.random() * 2600)
    tout = int(120 + rng.random() * 260)
    usage = None if code in ("timeout", "harness_error") else {
        "inputTokens": tin, "outputTokens": tout, "totalTokens": tin + tout,
        "costUsd": round(tin / 1000 * pin + tout / 1000 * pout, 6), "calls": attempts}
    answer = None if code else {"vendor": vendor.title(), "invoice": f"INV-{1000 + i}",
                                "total": round(80 + rng.random() * 9000, 2),
                                "currency": rng.choice(["EUR", "USD", "GBP"])}
    out.append({"id": path, "input": path, "route": route, "model": model,
                "text": "" if answer is None else json.dumps(answer),
                "json": answer, "usage": usage, "error": error, "attempts": attempts,
                "durationMs": round(ms, 3),
                "key": hashlib.sha256(path.encode()).hexdigest()})
dest = sys.argv[1] if len(sys.argv) > 1 else "examples/batch-sample.jsonl"
with open(dest, "w") as f:
    for rec in out:
        f.write(json.dumps(rec, separators=(",", ":"), sort_keys=True) + "\n")
